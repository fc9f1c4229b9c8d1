"""Build and publish prebuilt indexes: an index directory -> ``NAME.tar.gz`` + checksums + a registry entry.

``build`` encodes a corpus (or builds a Lucene index, or takes a finished directory), packs it as a tarball whose
one top-level folder is named after the entry, and writes ``NAME.yaml`` (the entry, without urls) beside it.
``publish`` copies the tarball where a web server serves it and records the entry, with its urls, in a registry
directory. The tarball is reproducible: members in name order, owner, times and gzip header zeroed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
from pathlib import Path

from ..files import atomic_path, atomic_write
from ..errors import InputError
from .registry import REPO_REGISTRY, check_entry, load_registry, read_registry_file, registry_files

# descriptive keys a build keeps from the registry's entry of the same name; the rest it measures itself
TEMPLATE_KEYS = ("description", "corpus", "linked_lucene_index", "expected_scores", "scores_source", "recipe",
                 "note", "aliases")
ENTRY_ORDER = ("type", "description", "model", "encoder", "corpus", "documents", "dimension", "index_type",
               "filename", "urls", "md5", "sha256", "size") + TEMPLATE_KEYS[2:]


def encode_corpus(corpus: str, index_dir: str, encoder, *, corpus_name: str, factory: str = "Flat") -> None:
    """Encode ``corpus`` into ``index_dir`` (resumable), converted to the faiss ``factory`` when not Flat."""
    from ..encode.corpus import CorpusEncoder
    from ..index.faiss_builder import build_index, new_index

    if factory != "Flat":
        new_index(factory, encoder.dimension)  # a factory faiss refuses is found before the encoding, not after
    flat = index_dir if factory == "Flat" else index_dir + ".flat"
    CorpusEncoder(encoder).encode(corpus, flat, corpus_name=corpus_name)
    if factory != "Flat":
        build_index(flat, index_dir, factory)


def index_lucene(corpus: str, index_dir: str, *, multifield: bool) -> None:
    from ..index.lucene import LuceneIndexBuilder

    LuceneIndexBuilder(multifield=multifield).build(corpus, index_dir)


def dense_facts(index_dir: str) -> dict:
    """What an entry says about a dense index, read from its meta.json."""
    from ..index.dense import DenseIndex

    index = DenseIndex(index_dir)
    meta = index.meta
    if not meta.get("encoder"):
        raise InputError(f"{index_dir} records no encoder (no meta.json): encode it with python -m pyserini_dr.encode")
    encoder = {k: v for k, v in meta["encoder"].items() if k != "model"}
    kind = meta.get("index_type") if meta.get("index_type") in ("lucene-flat", "lucene-hnsw") else "dense"
    if kind == "dense":  # a tarball of files that disagree would be published, fetched and verified by checksum
        index.verify()
    return {"type": kind, "model": meta["encoder"]["model"], "encoder": encoder, "corpus": meta.get("corpus"),
            "documents": meta["documents"], "dimension": meta["dimension"],
            "index_type": meta.get("index_type", "Flat")}


def lucene_facts(index_dir: str) -> dict:
    from .. import _pyserini
    from ..index.lucene import is_lucene_index

    if not is_lucene_index(index_dir):
        raise InputError(f"{index_dir} is not a Lucene index directory")
    return {"type": "lucene", "documents": int(_pyserini.AnseriniSearcher(index_dir).num_docs)}


def _normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def pack(index_dir: str, name: str, tarball: str) -> None:
    """``index_dir``'s files (not hidden ones) into ``tarball`` under the folder ``name``.

    The raw vectors stay out when a faiss ``index`` is there: it holds them (DenseIndex reconstructs them from a
    flat one), and packing both would double the download.
    """
    from ..index.dense import EMBEDDINGS_FILE, FAISS_FILE

    names = os.listdir(index_dir)
    skip = {EMBEDDINGS_FILE} if FAISS_FILE in names else set()
    files = sorted(f for f in names if not f.startswith(".") and f not in skip
                   and os.path.isfile(os.path.join(index_dir, f)) and not os.path.islink(os.path.join(index_dir, f)))
    # a sharded Lucene dense index keeps one Lucene index per shardNN folder
    files += sorted(os.path.join(d, f) for d in names if d.startswith("shard") and not os.path.islink(
        os.path.join(index_dir, d)) and os.path.isdir(os.path.join(index_dir, d))
        for f in os.listdir(os.path.join(index_dir, d)) if os.path.isfile(os.path.join(index_dir, d, f)))
    with atomic_path(tarball) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(index_dir, arcname=name, recursive=False, filter=_normalized)
        for folder in sorted({os.path.dirname(f) for f in files} - {""}):
            tar.add(os.path.join(index_dir, folder), arcname=f"{name}/{folder}", recursive=False, filter=_normalized)
        for f in files:
            tar.add(os.path.join(index_dir, f), arcname=f"{name}/{f}", filter=_normalized)


def checksums(path: str) -> dict:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "size": os.path.getsize(path)}


def build(name: str, index_dir: str, output_dir: str, *, lucene: bool = False, template: dict | None = None,
          corpus: str | None = None, description: str | None = None) -> tuple[dict, str]:
    """Pack the finished ``index_dir`` as ``output_dir/NAME.tar.gz`` and write ``output_dir/NAME.yaml``.

    ``template`` (the registry's entry of that name, if any) gives the descriptive keys; returns (entry, file).
    """
    facts = lucene_facts(index_dir) if lucene else dense_facts(index_dir)
    kept = {k: v for k, v in (template or {}).items() if k in TEMPLATE_KEYS}
    entry = {**kept, **{k: v for k, v in facts.items() if v is not None}}
    entry["corpus"] = corpus or kept.get("corpus") or facts.get("corpus") or "unknown"
    entry["description"] = description or kept.get("description") or (
        f"Lucene index of {entry['corpus']}" if lucene else
        f"Lucene {entry['index_type'][7:]} index of {entry['corpus']} encoded by {entry['model']}"
        if entry["type"] != "dense" else f"Faiss {entry['index_type']} index of {entry['corpus']} encoded by {entry['model']}")
    entry["filename"] = f"{name}.tar.gz"
    tarball = os.path.join(output_dir, entry["filename"])
    os.makedirs(output_dir, exist_ok=True)
    pack(index_dir, name, tarball)
    entry.update(urls=[], **checksums(tarball))
    entry = {k: entry[k] for k in ENTRY_ORDER if k in entry}
    path = os.path.join(output_dir, f"{name}.yaml")
    check_entry(path, name, entry)
    write_registry_file(path, {name: entry})
    return entry, path


def publish(name: str, build_dir: str, to_dir: str, base_urls: list[str],
            registry_dir: str | os.PathLike = REPO_REGISTRY) -> tuple[dict, str]:
    """Copy the built tarball into ``to_dir`` and record the entry, with one url per base url, in the registry."""
    built = read_registry_file(os.path.join(build_dir, f"{name}.yaml"))
    if name not in built:
        raise InputError(f"{os.path.join(build_dir, name + '.yaml')} has no entry {name!r}")
    entry = dict(built[name])
    tarball = os.path.join(build_dir, entry["filename"])
    if checksums(tarball) != {k: entry[k] for k in ("md5", "sha256", "size")}:
        raise InputError(f"{tarball} does not match its entry (rebuilt or changed since?): build it again")
    entry["urls"] = [f"{base.rstrip('/')}/{entry['filename']}" for base in base_urls]
    # the tarball is copied beside the served one, the entry recorded, and only then the new tarball served: a
    # registry that cannot be written leaves the served tarball and its old entry matching
    with atomic_path(os.path.join(to_dir, entry["filename"])) as tmp:
        shutil.copyfile(tarball, tmp)
        recorded = record_entry(registry_dir, name, entry)
    return entry, recorded


def record_entry(registry_dir: str | os.PathLike, name: str, entry: dict) -> str:
    """Write ``entry`` into the file of ``registry_dir`` that holds ``name``; a new name goes to a file named as
    the one that lists it elsewhere (the repository's), else to ``<family>.yaml``, family being the name without
    its last dotted part (``beir-v1.0.0-scifact`` for ``beir-v1.0.0-scifact.all-minilm-l6-v2``). Returns the file."""
    check_entry(f"entry for {Path(registry_dir) / name}", name, entry)
    for path in registry_files(Path(registry_dir)):
        entries = read_registry_file(path)
        if name in entries:
            break
    else:
        listed = load_registry().get(name)
        path = Path(registry_dir) / (Path(listed.file).name if listed else f"{name.rsplit('.', 1)[0]}.yaml")
        entries = read_registry_file(path) if path.is_file() else {}
    entries[name] = entry
    write_registry_file(path, entries)
    return str(path)


def write_registry_file(path, entries: dict) -> None:
    import yaml

    with atomic_write(path) as f:
        yaml.safe_dump(entries, f, sort_keys=False, width=115, allow_unicode=True, default_flow_style=False)
