"""Dataset names -> files: a local mirror (``PYSERINI_DR_DATA``), else the official downloads, checksummed.

A mirror directory holds one folder per collection in BEIR layout (``corpus.jsonl``, ``queries*.jsonl``,
``qrels/<split>.tsv``), as ``../shared/data`` does. Without a mirror, the same layout is built in the cache
from the official files (URLs and md5s as ir_datasets and BEIR list them).
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Callable

from ..errors import InputError
from .download import cache_dir, download

DATA_ENV = "PYSERINI_DR_DATA"


@dataclass(frozen=True)
class Source:
    """An official file and the function that lays its content out as a mirror folder."""
    filename: str
    urls: tuple[str, ...]
    md5: str
    size: int | None
    build: Callable[[str, str], None]  # (downloaded file, mirror folder) -> None


@dataclass(frozen=True)
class Topics:
    collection: str       # mirror folder
    queries: str          # file inside it
    qrels: str            # file inside it; its query ids select the split's topics
    filter_by_qrels: bool = True


@dataclass(frozen=True)
class Collection:
    sources: dict[str, Source] = field(default_factory=dict)  # mirror-relative path -> the source that builds it


# ---- builders: official file -> mirror layout --------------------------------------------------------------------

def _unzip_beir(name: str):
    def build(archive: str, folder: str) -> None:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                rel = member.split("/", 1)[1] if member.startswith(f"{name}/") else None
                if not rel or member.endswith("/") or ".." in rel.split("/"):
                    continue
                target = os.path.join(folder, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    return build


def _cranfield_records(text: str):
    """Split the SMART-format Cranfield files into {field letter: text} records."""
    for chunk in re.split(r"^\.I\s+", text, flags=re.M)[1:]:
        head, _, body = chunk.partition("\n")
        fields, key = {"I": head.strip()}, None
        for line in body.splitlines():
            m = re.match(r"^\.([A-Z])\s*$", line)
            if m:
                key = m.group(1)
                fields[key] = ""
            elif key:
                fields[key] += " " + line
        yield {k: " ".join(v.split()) for k, v in fields.items()}


def _build_cranfield(archive: str, folder: str) -> None:
    with tarfile.open(archive) as tar:
        read = lambda name: tar.extractfile(tar.getmember(name)).read().decode("utf-8", "replace")
        docs, queries, qrels = read("cran.all.1400"), read("cran.qry"), read("cranqrel")
    os.makedirs(os.path.join(folder, "qrels"), exist_ok=True)
    with open(os.path.join(folder, "corpus.jsonl"), "w") as f:
        for d in _cranfield_records(docs):
            f.write(json.dumps({"_id": str(int(d["I"])), "title": d.get("T", ""), "text": d.get("W", "")}) + "\n")
    with open(os.path.join(folder, "queries.jsonl"), "w") as f:
        # cranqrel numbers queries 1..225 in file order, not by their .I labels (ir_datasets does the same)
        for seq, q in enumerate(_cranfield_records(queries), 1):
            f.write(json.dumps({"_id": str(seq), "text": q.get("W", "")}) + "\n")
    gain = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}  # Cleverdon's codes (1 = complete answer) -> trec_eval gains
    with open(os.path.join(folder, "qrels", "test.tsv"), "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for line in qrels.split("\n"):
            cols = line.split()
            if len(cols) >= 3:
                f.write(f"{cols[0]}\t{cols[1]}\t{gain.get(int(cols[2]), 0)}\n")


def _tsv_topics_to_jsonl(src_lines, out_path: str, keep: set[str] | None = None) -> None:
    with open(out_path, "w") as f:
        for line in src_lines:
            qid, _, text = line.rstrip("\n").partition("\t")
            if qid and (keep is None or qid in keep):
                f.write(json.dumps({"_id": qid, "text": text}) + "\n")


def _trec_qrels_to_tsv(src_lines, out_path: str) -> None:
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for line in src_lines:
            cols = line.split()
            if len(cols) == 4:
                f.write(f"{cols[0]}\t{cols[2]}\t{cols[3]}\n")


def _build_msmarco_dev_small(archive: str, folder: str) -> None:
    with tarfile.open(archive) as tar:
        for member in tar:
            base = os.path.basename(member.name)
            if base == "qrels.dev.small.tsv":
                lines = tar.extractfile(member).read().decode().splitlines()
                # official file: qid 0 pid 1, tab separated
                _trec_qrels_to_tsv(lines, os.path.join(folder, "qrels", "dev.tsv"))
            elif base == "queries.dev.small.tsv":
                lines = tar.extractfile(member).read().decode().splitlines()
                _tsv_topics_to_jsonl(lines, os.path.join(folder, "queries.dev.jsonl"))


def _build_dl_qrels(split: str):
    def build(path: str, folder: str) -> None:
        with open(path) as f:
            _trec_qrels_to_tsv(f, os.path.join(folder, "qrels", f"{split}.tsv"))
    return build


def _build_dl_topics(split: str, judged_only: bool):
    def build(path: str, folder: str) -> None:
        keep = None
        if judged_only:  # Pyserini's dl19-passage topics are the 43 judged ones
            qrels = resolve_file("msmarco-passage-eval", f"qrels/{split}.tsv")
            from .qrels import read_qrels
            keep = set(read_qrels(qrels))
        with gzip.open(path, "rt") as f:
            _tsv_topics_to_jsonl(f, os.path.join(folder, f"queries.{split}.jsonl"), keep)
    return build


_MSMARCO = "https://msmarco.z22.web.core.windows.net/msmarcoranking/"
_SCIFACT_ZIP = Source("scifact.zip", ("https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",),
                      "5f7d1de60b170fc8027bb7898e2efca1", 2_816_079, _unzip_beir("scifact"))
_CRAN = Source("cran.tar.gz", ("http://ir.dcs.gla.ac.uk/resources/test_collections/cran/cran.tar.gz",),
               "1730f7be572d95a5a4b56c59a7b900a5", 506_960, _build_cranfield)
_DEV_SMALL = Source("collectionandqueries.tar.gz", (_MSMARCO + "collectionandqueries.tar.gz",),
                    "31644046b18952c1386cd4564ba2ae69", 1_057_717_952, _build_msmarco_dev_small)

COLLECTIONS = {
    "scifact": Collection({p: _SCIFACT_ZIP for p in
                                      ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/train.tsv")}),
    "cranfield": Collection({p: _CRAN for p in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")}),
    "msmarco-passage-eval": Collection({
        "queries.dev.jsonl": _DEV_SMALL, "qrels/dev.tsv": _DEV_SMALL,
        "qrels/dl19.tsv": Source("2019qrels-pass.txt", ("https://trec.nist.gov/data/deep/2019qrels-pass.txt",),
                                 "2f4be390198da108f6845c822e5ada14", 187_092, _build_dl_qrels("dl19")),
        "qrels/dl20.tsv": Source("2020qrels-pass.txt", ("https://trec.nist.gov/data/deep/2020qrels-pass.txt",),
                                 "0355ccee7509ac0463e8278186cdd8d1", 218_617, _build_dl_qrels("dl20")),
        "queries.dl19.jsonl": Source("msmarco-test2019-queries.tsv.gz", (_MSMARCO + "msmarco-test2019-queries.tsv.gz",),
                                     "eda71eccbe4d251af83150abe065368c", 4_276, _build_dl_topics("dl19", True)),
        "queries.dl20.jsonl": Source("msmarco-test2020-queries.tsv.gz", (_MSMARCO + "msmarco-test2020-queries.tsv.gz",),
                                     "00a406fb0d14ed3752d70d1e4eb98600", 4_131, _build_dl_topics("dl20", False)),
    }),
}

CORPORA = {"beir-v1.0.0-scifact": ("scifact", "corpus.jsonl"), "cranfield": ("cranfield", "corpus.jsonl")}

TOPICS = {
    "beir-v1.0.0-scifact-test": Topics("scifact", "queries.jsonl", "qrels/test.tsv"),
    "beir-v1.0.0-scifact-train": Topics("scifact", "queries.jsonl", "qrels/train.tsv"),
    "cranfield": Topics("cranfield", "queries.jsonl", "qrels/test.tsv", False),
    "msmarco-passage-dev-subset": Topics("msmarco-passage-eval", "queries.dev.jsonl", "qrels/dev.tsv", False),
    "dl19-passage": Topics("msmarco-passage-eval", "queries.dl19.jsonl", "qrels/dl19.tsv", False),
    "dl20": Topics("msmarco-passage-eval", "queries.dl20.jsonl", "qrels/dl20.tsv", False),
}
QRELS_ALIASES = {"dl20-passage": "dl20"}

DATASETS = sorted(set(CORPORA) | set(TOPICS) | set(QRELS_ALIASES))


def _unknown(kind: str, name: str, known) -> InputError:
    return InputError(f"unknown {kind} {name!r}: not a file, and not one of {', '.join(sorted(known))}")


def resolve_file(collection: str, relpath: str) -> str:
    """Path of ``relpath`` in a collection: the local mirror first, then the cache, then a verified download."""
    mirror = os.environ.get(DATA_ENV)
    if mirror:
        local = os.path.join(mirror, collection, relpath)
        if os.path.isfile(local):
            return local
    cached_folder = os.path.join(cache_dir("data"), collection)
    cached = os.path.join(cached_folder, relpath)
    if os.path.isfile(cached):
        return cached
    source = COLLECTIONS[collection].sources.get(relpath)
    where = f"{DATA_ENV}={mirror} has no {collection}/{relpath}" if mirror else f"{DATA_ENV} is not set"
    if source is None:
        raise InputError(f"{where}, and no download is known for it")
    try:
        archive = download(list(source.urls), source.md5, os.path.join(cache_dir("downloads"), source.filename),
                           size=source.size)
    except InputError as e:
        raise InputError(f"{where}, and the official download failed ({e}); point {DATA_ENV} at a local mirror "
                         f"laid out as <dir>/{collection}/{relpath}") from None
    with tempfile.TemporaryDirectory(dir=cache_dir("data")) as tmp:
        source.build(archive, tmp)
        for root, _, files in os.walk(tmp):  # move built files in one by one, each with an atomic rename
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), tmp)
                os.makedirs(os.path.dirname(os.path.join(cached_folder, rel)), exist_ok=True)
                os.replace(os.path.join(root, name), os.path.join(cached_folder, rel))
    if not os.path.isfile(cached):
        raise InputError(f"{source.filename} did not contain {relpath}")
    return cached


def resolve_corpus(name_or_path: str) -> str:
    """A corpus file or folder (JsonCollection), or a dataset name."""
    if os.path.isfile(name_or_path) or os.path.isdir(name_or_path):
        return name_or_path
    if name_or_path not in CORPORA:
        raise _unknown("corpus", name_or_path, CORPORA)
    return resolve_file(*CORPORA[name_or_path])


def resolve_qrels(name_or_path: str) -> str:
    if os.path.isfile(name_or_path):
        return name_or_path
    name = QRELS_ALIASES.get(name_or_path, name_or_path)
    if name not in TOPICS:
        raise _unknown("qrels", name_or_path, list(TOPICS) + list(QRELS_ALIASES))
    spec = TOPICS[name]
    return resolve_file(spec.collection, spec.qrels)


def resolve_topics(name_or_path: str) -> dict[str, str]:
    """qid -> text for a topics file or a dataset topic name (a BEIR split keeps the split's judged queries)."""
    from .qrels import read_qrels
    from .topics import read_topics

    if os.path.isfile(name_or_path):
        return read_topics(name_or_path)
    name = QRELS_ALIASES.get(name_or_path, name_or_path)
    if name not in TOPICS:
        raise _unknown("topics", name_or_path, list(TOPICS) + list(QRELS_ALIASES))
    spec = TOPICS[name]
    queries = resolve_file(spec.collection, spec.queries)
    keep = set(read_qrels(resolve_file(spec.collection, spec.qrels))) if spec.filter_by_qrels else None
    return read_topics(queries, keep)
