"""Prebuilt indexes: build -> publish -> fetch by name -> search, over HTTP on 127.0.0.1; refused downloads.

A tiny BERT checkpoint (built from a config) encodes a 20-document corpus written here; the tarball is served by
``http.server`` in a thread. Everything is offline. The build and the searches run in-process (torch loads
once); the error cases run the CLIs as subprocesses, as a user meets them.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import REPO

NAME = "tiny-corpus.tiny-bert"
LUCENE_NAME = "tiny-corpus.bm25"
PREBUILT = "pyserini_dr.prebuilt"
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega river mountain forest desert ocean island valley").split()
DOCS = [{"_id": f"d{i}", "title": WORDS[i], "text": " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6))}
        for i in range(20)]
QUERIES = {"q1": "alpha river", "q2": "ocean valley mountain", "q3": "sigma tau", "q4": "forest island omega"}
HITS = 10


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# ---- helpers ----------------------------------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """An HTTP server on 127.0.0.1 serving ``directory`` from a thread; yields its base URL."""
    directory.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_registry(directory: Path, entries: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tiny-corpus.yaml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path


def tarball_facts(path: Path) -> dict:
    data = path.read_bytes()
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def cache_contents(cache: Path) -> list[str]:
    """Every path under the cache: after a refused download, only the empty ``indexes`` folder."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))


def prebuilt_main(*args) -> None:
    from pyserini_dr.prebuilt.__main__ import main

    assert main([str(a) for a in args]) == 0


def dense_search(index: str | Path, topics: Path, output: Path) -> list[str]:
    from pyserini_dr.search.faiss.__main__ import main

    assert main(["--index", str(index), "--topics", str(topics), "--output", str(output), "--hits", str(HITS)]) == 0
    return output.read_text().splitlines()


@dataclass
class Built:
    root: Path
    topics: Path
    build_dir: Path
    index_dir: Path
    tarball: Path
    entry: dict


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """The tiny model, corpus and topics, and ``python -m pyserini_dr.prebuilt build`` of them (once)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("prebuilt")
    corpus, topics = root / "corpus.jsonl", root / "topics.tsv"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in QUERIES.items()), encoding="utf-8")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(str(vocab), do_lower_case=True)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=128, initializer_range=0.2))
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")

    build_dir = root / "dist"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSERINI_DR_QUIET", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("PYSERINI_DR_CACHE", str(root / "build-cache"))
        mp.setenv("PYSERINI_DR_PREBUILT", str(root / "no-registry"))
        prebuilt_main("build", NAME, "--corpus", corpus, "--encoder", root / "model", "--device", "cpu",
                      "--output-dir", build_dir)
    entry = yaml.safe_load((build_dir / f"{NAME}.yaml").read_text())[NAME]
    return Built(root, topics, build_dir, build_dir / NAME, build_dir / entry["filename"], entry)


def published_entry(built: Built, base_url: str) -> dict:
    return {NAME: {**built.entry, "urls": [f"{base_url}/{built.entry['filename']}"]}}


# ---- build, publish, fetch, search ------------------------------------------------------------------------------

def test_build_writes_a_tarball_named_after_the_entry_and_its_checksums(built):
    entry = built.entry
    assert entry["filename"] == f"{NAME}.tar.gz" and entry["urls"] == []
    assert {k: entry[k] for k in ("md5", "sha256", "size")} == tarball_facts(built.tarball)
    assert (entry["type"], entry["documents"], entry["dimension"], entry["index_type"]) == ("dense", 20, 32, "Flat")
    assert entry["model"] == str(built.root / "model") and entry["encoder"]["encoder_class"] == "auto"
    with tarfile.open(built.tarball) as tar:  # one folder named after the entry; the raw vectors stay out
        assert sorted(tar.getnames()) == [NAME, f"{NAME}/docid", f"{NAME}/index", f"{NAME}/meta.json"]
        assert {(m.uid, m.gid, m.mtime) for m in tar.getmembers()} == {(0, 0, 0)}


def test_round_trip_over_http_gives_the_same_run(built, tmp_path, monkeypatch, cache_root):
    www, registry = tmp_path / "www", tmp_path / "registry"
    monkeypatch.setenv("PYSERINI_DR_PREBUILT", str(registry))
    local = dense_search(built.index_dir, built.topics, tmp_path / "local.txt")
    with serve(www) as base:
        # the first mirror answers 404: the next one is tried
        prebuilt_main("publish", NAME, "--from", built.build_dir, "--to", www, "--base-url", f"{base}/gone", base,
                      "--registry", registry)
        entry = yaml.safe_load((registry / "tiny-corpus.yaml").read_text())[NAME]
        assert entry == {**built.entry, "urls": [f"{base}/gone/{NAME}.tar.gz", f"{base}/{NAME}.tar.gz"]}
        assert tarball_facts(www / f"{NAME}.tar.gz") == tarball_facts(built.tarball)
        by_name = dense_search(NAME, built.topics, tmp_path / "by-name.txt")
    assert len(local) == len(QUERIES) * HITS
    assert by_name == local  # same docids, same scores, same ranks
    cached = cache_root / "indexes" / f"{NAME}.{built.entry['md5']}"
    assert cache_contents(cache_root) == ["indexes"] + [f"indexes/{NAME}.{built.entry['md5']}{f}"
                                                        for f in ("", "/docid", "/index", "/meta.json")]
    assert (cached / "index").read_bytes() == (built.index_dir / "index").read_bytes()
    # the server is gone: the second fetch is the cache's
    assert dense_search(NAME, built.topics, tmp_path / "again.txt") == local


def test_lucene_entry_round_trip(built, tmp_path, monkeypatch, cache_root):
    from pyserini_dr.search.lucene.__main__ import main as bm25_main

    corpus = built.root / "corpus.jsonl"
    prebuilt_main("build", LUCENE_NAME, "--lucene", "--corpus", corpus, "--output-dir", tmp_path / "dist")
    monkeypatch.setenv("PYSERINI_DR_PREBUILT", str(tmp_path / "registry"))
    runs = {}
    with serve(tmp_path / "www") as base:
        prebuilt_main("publish", LUCENE_NAME, "--from", tmp_path / "dist", "--to", tmp_path / "www", "--base-url", base,
                      "--registry", tmp_path / "registry")
        for label, index in (("local", tmp_path / "dist" / LUCENE_NAME), ("by-name", LUCENE_NAME)):
            assert bm25_main(["--index", str(index), "--topics", str(built.topics), "--output",
                              str(tmp_path / f"{label}.txt"), "--hits", str(HITS)]) == 0
            runs[label] = (tmp_path / f"{label}.txt").read_text()
    entry = yaml.safe_load((tmp_path / "registry" / "tiny-corpus.yaml").read_text())[LUCENE_NAME]
    assert (entry["type"], entry["documents"]) == ("lucene", 20)
    assert runs["by-name"] == runs["local"] and runs["local"].count("\n") > len(QUERIES)
    assert (cache_root / "indexes" / f"{LUCENE_NAME}.{entry['md5']}").is_dir()


# ---- refused downloads ------------------------------------------------------------------------------------------

def test_corrupted_download_is_refused_and_leaves_the_cache_clean(built, tmp_path, cli, cache_root):
    data = bytearray(built.tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / built.tarball.name).write_bytes(bytes(data))
    with serve(tmp_path / "www") as base:
        write_registry(tmp_path / "registry", published_entry(built, base))
        env = {"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}
        line = cli("pyserini_dr.search.faiss", "--index", NAME, "--topics", built.topics, "--output",
                   tmp_path / "run.txt", env=env).error_line()
    assert line == (f"error: checksum mismatch for {base}/{NAME}.tar.gz: md5 {hashlib.md5(data).hexdigest()}, "
                    f"expected {built.entry['md5']}: refused")
    assert cache_contents(cache_root) == ["indexes"]
    assert not (tmp_path / "run.txt").exists()


def test_truncated_download_is_refused_and_leaves_the_cache_clean(built, tmp_path, cli, cache_root):
    data = built.tarball.read_bytes()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / built.tarball.name).write_bytes(data[: len(data) // 2])
    with serve(tmp_path / "www") as base:
        write_registry(tmp_path / "registry", published_entry(built, base))
        line = cli(PREBUILT, "fetch", NAME, env={"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}).error_line()
    assert line == (f"error: download of {base}/{NAME}.tar.gz is {len(data) // 2:,} bytes, expected {len(data):,}: "
                    "refused (truncated?)")
    assert cache_contents(cache_root) == ["indexes"]


def test_sha256_mismatch_is_refused(built, tmp_path, cli, cache_root):
    with serve(built.build_dir) as base:
        entries = published_entry(built, base)
        entries[NAME]["sha256"] = "0" * 64
        write_registry(tmp_path / "registry", entries)
        line = cli(PREBUILT, "fetch", NAME, env={"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}).error_line()
    assert line == (f"error: checksum mismatch for {base}/{NAME}.tar.gz: sha256 {built.entry['sha256']}, expected "
                    f"{'0' * 64}: refused")
    assert cache_contents(cache_root) == ["indexes"]


def _evil_tarball(path: Path, kind: str, outside: Path) -> str:
    """A tarball with a good member and one that reaches ``outside``; returns the bad member's name."""
    def add(tar, info, data=b""):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    with tarfile.open(path, "w:gz") as tar:
        add(tar, tarfile.TarInfo(f"{NAME}/docid"), b"d0\n")
        bad = tarfile.TarInfo({"dotdot": f"{NAME}/../../{outside.name}", "absolute": str(outside),
                               "symlink": f"{NAME}/link", "second-folder": f"other/{outside.name}"}[kind])
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, str(outside)
            add(tar, bad)
        else:
            add(tar, bad, b"pwned\n")
    return bad.name


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "second-folder"])
def test_archive_reaching_outside_is_refused(built, tmp_path, cli, cache_root, kind):
    www = tmp_path / "www"
    www.mkdir()
    outside = tmp_path / "evil"
    bad = _evil_tarball(www / f"{NAME}.tar.gz", kind, outside)
    with serve(www) as base:
        entries = published_entry(built, base)
        entries[NAME].update(tarball_facts(www / f"{NAME}.tar.gz"))
        write_registry(tmp_path / "registry", entries)
        line = cli(PREBUILT, "fetch", NAME, env={"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}).error_line()
    reason = {"dotdot": "climbs out with '..'", "absolute": "has an absolute path",
              "symlink": f"links outside the archive ({str(outside)!r})"}.get(kind)
    assert line == (f"error: {NAME}.tar.gz: member {bad!r} {reason}: refused" if reason else
                    f"error: {NAME}.tar.gz: expected one top-level folder, found 2: refused")
    assert not outside.exists() and not (cache_root.parent / "evil").exists()
    assert cache_contents(cache_root) == ["indexes"]


# ---- names and registry files -----------------------------------------------------------------------------------

def test_unknown_name_is_one_line_with_close_names(built, tmp_path, cli):
    write_registry(tmp_path / "registry", published_entry(built, "http://127.0.0.1:9"))
    env = {"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}
    assert cli(PREBUILT, "fetch", "tiny-corpus.tiny-bret", env=env).error_line() == (
        "error: no such index directory or prebuilt index: 'tiny-corpus.tiny-bret'; close names: "
        f"{NAME} (python -m pyserini_dr.prebuilt list shows them all)")
    # the search commands resolve --index the same way, and refuse an index of the other kind
    topics = tmp_path / "t.tsv"
    topics.write_text("q1\thello\n")
    assert cli("pyserini_dr.search.lucene", "--index", "no-such-index", "--topics", topics, "--output",
               tmp_path / "run.txt", env=env).error_line().startswith(
        "error: no such index directory or prebuilt index: 'no-such-index'")
    assert cli("pyserini_dr.search.lucene", "--index", NAME, "--topics", topics, "--output", tmp_path / "run.txt",
               env=env).error_line() == f"error: {NAME} is a prebuilt dense index; this command needs a lucene index"


@pytest.mark.parametrize("text, message", [
    ("tiny-corpus.x:\n  type: dense\n  description: [unclosed\n", "not valid YAML ("),
    ("tiny-corpus.x:\n  type: lucene\n  description: d\n  corpus: c\n  documents: 3\n  filename: x.tar.gz\n"
     "  urls: []\n  sha256: null\n  size: null\n", "entry 'tiny-corpus.x': missing key 'md5'"),
    ("tiny-corpus.x:\n  type: lucene\n  description: d\n  corpus: c\n  documents: many\n  filename: x.tar.gz\n"
     "  urls: []\n  md5: null\n  sha256: null\n  size: null\n", "entry 'tiny-corpus.x': key 'documents' must be "
                                                             "an integer"),
])
def test_malformed_registry_file_is_one_line_naming_it(tmp_path, cli, text, message):
    (tmp_path / "registry").mkdir()
    bad = tmp_path / "registry" / "bad.yaml"
    bad.write_text(text)
    line = cli(PREBUILT, "list", env={"PYSERINI_DR_PREBUILT": str(tmp_path / "registry")}).error_line()
    assert line.startswith(f"error: {bad}: {message}")


def test_every_repository_entry_passes_the_schema_check(monkeypatch):
    from pyserini_dr.prebuilt import load_registry
    from pyserini_dr.prebuilt.registry import REPO_REGISTRY, check_entry, read_registry_file

    monkeypatch.delenv("PYSERINI_DR_PREBUILT", raising=False)
    files = sorted(p.name for p in REPO_REGISTRY.glob("*.yaml"))
    assert files == ["msmarco-v1-passage.yaml", "scifact.yaml"]
    for path in REPO_REGISTRY.glob("*.yaml"):
        for name, entry in read_registry_file(path).items():
            check_entry(path, name, entry)
            assert all(url.endswith("/" + entry["filename"]) for url in entry["urls"]), name
            assert entry["urls"] or entry.get("recipe") or entry.get("note"), f"{name}: neither urls nor a recipe"
    registry = load_registry()  # also checks each linked_lucene_index names a lucene entry
    tasb = registry["msmarco-v1-passage.tasb"].info
    assert (tasb["md5"], tasb["size"], tasb["documents"]) == ("538546d5818527a51d87ce482e7a197e", 25162329450,
                                                              8841823)
    assert registry["msmarco-passage-ance-bf"].name == "msmarco-v1-passage.ance"
    minilm = registry["beir-v1.0.0-scifact.all-minilm-l6-v2"].info
    assert (minilm["dimension"], minilm["documents"], minilm["linked_lucene_index"]) == (
        384, 5183, "beir-v1.0.0-scifact.flat")
    assert minilm["expected_scores"]["beir-v1.0.0-scifact-test"] == {"nDCG@10": 0.6451, "R@100": 0.925}
    for name in ("msmarco-v1-passage.simlm-base-msmarco-finetuned", "msmarco-v1-passage.pair"):
        assert registry[name].info["urls"] == [] and any("pyserini_dr.encode" in step
                                                         for step in registry[name].info["recipe"])


def test_importing_prebuilt_loads_no_pyserini_java_torch_or_faiss():
    code = ("import sys, pyserini_dr.prebuilt, pyserini_dr.prebuilt.__main__, pyserini_dr.prebuilt.build\n"
            "pyserini_dr.prebuilt.load_registry()\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyserini', 'jnius', 'torch', 'faiss'}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("[]\n", "")


def test_publish_to_an_unwritable_registry_leaves_the_served_tarball(built, tmp_path, capsys):
    """The registry is checked before the served tarball is replaced: otherwise every later fetch would fail its
    checksum against the old entry."""
    from pyserini_dr.cli import run_main
    from pyserini_dr.prebuilt.__main__ import main

    www = tmp_path / "www"
    www.mkdir()
    served = www / f"{NAME}.tar.gz"
    served.write_bytes(b"the tarball served before")
    not_a_directory = tmp_path / "registry"
    not_a_directory.write_text("a file where the registry directory should be\n")
    with pytest.raises(SystemExit) as exited:
        run_main(main, ["publish", NAME, "--from", str(built.build_dir), "--to", str(www), "--base-url",
                        "http://127.0.0.1:9/prebuilt", "--registry", str(not_a_directory)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert served.read_bytes() == b"the tarball served before"
    assert sorted(p.name for p in www.iterdir()) == [served.name]   # no temporary file left behind
