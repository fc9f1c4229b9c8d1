"""Lucene dense indexes through Anserini (pyserini_dr.index.lucene --dense, search.lucene --dense).

Over the SciFact subset of conftest (every document judged for a test query plus 100 others, MiniLM vectors):
a Lucene flat index ranks as our faiss flat index on every test query; four shards as one; HNSW int8 finds
what exact search finds; Pyserini's own ``pyserini.search.lucene --dense --hnsw`` on our index gives our top-10;
an index Anserini built by itself loads in ours; hybrid fusion with a Lucene dense index equals fusion with faiss;
and each refusal is one error line. Needs Java, faiss and the offline MiniLM package (skips without them).
"""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from pyserini_dr.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="session")
def built(subset, tmp_path_factory):
    """Lucene flat, flat in 4 shards and HNSW int8 indexes of the subset's MiniLM vectors, built once."""
    from pyserini_dr.index.lucene.dense import LuceneDenseIndexBuilder

    root = tmp_path_factory.mktemp("lucene-dense")
    indexes = {"flat": LuceneDenseIndexBuilder(hnsw=False, threads=2),
               "flat4": LuceneDenseIndexBuilder(hnsw=False, shards=4, threads=2),
               "hnsw8": LuceneDenseIndexBuilder(hnsw=True, int8=True, threads=2)}
    metas = {name: builder.build(str(subset.dense), str(root / name)) for name, builder in indexes.items()}
    return root, metas


@pytest.fixture(scope="session")
def query_encoder(subset):
    from pyserini_dr.encode import DenseEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return DenseEncoder(subset.model)


@pytest.fixture(scope="session")
def query_vectors(subset, query_encoder):
    from pyserini_dr.search.queries import encode_topics

    return encode_topics(query_encoder, subset.test_topics)


def lucene_run(directory, encoder, qids, vectors, hits, **kwargs):
    from pyserini_dr.index.lucene.dense import LuceneDenseIndex
    from pyserini_dr.search.lucene.dense import LuceneDenseSearcher

    return LuceneDenseSearcher(LuceneDenseIndex(str(directory)), encoder, **kwargs).search_vectors(vectors, qids, hits)


def faiss_run(subset, encoder, qids, vectors, hits):
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.search.faiss import DenseSearcher

    return DenseSearcher(DenseIndex(str(subset.dense)), encoder).search_vectors(vectors, qids, hits)


def assert_same_run(ours, theirs, tol=1e-5, tie=1e-6):
    """Same docids at every rank, except where two documents' inner products are within `tie`: Lucene scores in
    float32 as (1 + dot) / 2, which can swap such near-ties (seen at rank 27 of one SciFact query on the CI machine)."""
    assert ours.keys() == theirs.keys()
    for qid in theirs:
        assert len(ours[qid]) == len(theirs[qid]), qid
        assert np.allclose([s for _, s in ours[qid]], [s for _, s in theirs[qid]], atol=tol), qid
        exact = dict(theirs[qid])
        cutoff = theirs[qid][-1][1]
        for rank, ((doc, score), (their_doc, their_score)) in enumerate(zip(ours[qid], theirs[qid])):
            if doc != their_doc:
                in_tie = abs(exact[doc] - their_score) <= tie if doc in exact else score <= cutoff + tie
                assert in_tie, (qid, rank, doc, their_doc)
        swapped = sum(d != t for (d, _), (t, _) in zip(ours[qid], theirs[qid]))
        assert swapped <= 4, (qid, swapped)


def test_meta_records_the_encoder_and_the_build(subset, built):
    _, metas = built
    source = json.loads((subset.dense / "meta.json").read_text())
    assert metas["hnsw8"]["encoder"] == source["encoder"]
    assert metas["hnsw8"]["index_type"] == "lucene-hnsw" and metas["flat"]["index_type"] == "lucene-flat"
    assert metas["hnsw8"]["lucene"] == {"similarity": "DOT_PRODUCT", "M": 16, "efC": 100, "int8": True, "shards": 1,
                                        "optimize": False}
    assert metas["flat4"]["lucene"]["shards"] == 4
    assert metas["flat"]["documents"] == len(subset.docids)
    assert sorted(os.listdir(built[0] / "flat4")) == ["docid", "meta.json", "shard00", "shard01", "shard02", "shard03"]


def test_lucene_flat_ranks_as_faiss_flat_on_every_test_query(subset, built, query_encoder, query_vectors):
    qids, vectors = query_vectors
    assert len(qids) == 300
    assert_same_run(lucene_run(built[0] / "flat", query_encoder, qids, vectors, 100),
                    faiss_run(subset, query_encoder, qids, vectors, 100))


def test_four_shards_return_the_one_shard_top100(built, query_encoder, query_vectors):
    qids, vectors = query_vectors
    one = lucene_run(built[0] / "flat", query_encoder, qids, vectors, 100)
    four = lucene_run(built[0] / "flat4", query_encoder, qids, vectors, 100)
    assert four == one


def test_hnsw_int8_recall_against_exact_search(subset, built, query_encoder, query_vectors):
    qids, vectors = query_vectors
    exact = faiss_run(subset, query_encoder, qids, vectors, 100)
    hnsw = lucene_run(built[0] / "hnsw8", query_encoder, qids, vectors, 100)
    recall = np.mean([len({d for d, _ in hnsw[q]} & {d for d, _ in exact[q]}) / len(exact[q]) for q in qids])
    assert recall >= 0.97
    assert all(len(hnsw[q]) == 100 for q in qids)  # efSearch 100 raised to --hits where lower: never fewer


def test_efsearch_is_raised_to_hits(built, query_encoder, query_vectors):
    qids, vectors = query_vectors
    run = lucene_run(built[0] / "hnsw8", query_encoder, qids[:5], vectors[:5], 300, ef_search=10)
    assert [len(hits) for hits in run.values()] == [300] * 5


def test_pyserini_search_lucene_dense_gives_our_top10(subset, built, pyserini_cli, tmp_path, query_encoder,
                                                      query_vectors):
    """Pyserini's own CLI, with the query vectors our encode.query wrote as its topics file."""
    from pyserini_dr.data.query_vectors import write_query_vectors
    from pyserini_dr.data.runs import read_run

    qids, vectors = query_vectors
    topics = tmp_path / "queries.tsv"
    write_query_vectors(str(topics), qids, vectors, [subset.test_topics[q] for q in qids])
    out = tmp_path / "pyserini.txt"
    done = pyserini_cli("pyserini.search.lucene", "--dense", "--hnsw", "--index", built[0] / "hnsw8", "--topics",
                        topics, "--output", out, "--hits", 10)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = read_run(str(out))
    ours = lucene_run(built[0] / "hnsw8", query_encoder, qids, vectors, 10)
    assert set(theirs) == set(qids)
    # Pyserini prints Lucene's score, (1 + inner product) / 2, at 6 decimals: two documents it prints alike (inner
    # products within 2e-6; seen at rank 7 of one query) come in Lucene's order, which its output cannot show
    assert_same_run(ours, {q: [(d, 2 * s - 1) for d, s in hits] for q, hits in theirs.items()}, tol=3e-6, tie=3e-6)


def test_index_built_by_anserini_loads_in_ours(subset, built, tmp_path, query_encoder, query_vectors):
    """Anserini's IndexHnswDenseVectors run by hand on JsonDenseVectorCollection files, as a Pyserini user does; no
    meta.json, so the encoder comes from flags; its top-10 equals ours on our own index."""
    from pyserini_dr import _pyserini
    from pyserini_dr.index.dense import DenseIndex

    dense = DenseIndex(str(subset.dense))
    collection = tmp_path / "collection"
    collection.mkdir()
    with open(collection / "vectors.jsonl", "w") as f:
        for docid, vector in zip(dense.docids, dense.vectors().tolist()):
            f.write(json.dumps({"docid": docid, "vector": vector}) + "\n")
    index = tmp_path / "anserini-hnsw"
    subprocess.run([os.path.join(_pyserini.java_home(), "bin", "java"), "-cp", _pyserini.anserini_jar(),
                    "io.anserini.index.IndexHnswDenseVectors", "-collection", "JsonDenseVectorCollection",
                    "-input", str(collection), "-index", str(index), "-M", "16", "-efC", "100", "-threads", "1",
                    "-quiet"], check=True, capture_output=True)
    qids, vectors = query_vectors
    theirs = lucene_run(index, query_encoder, qids, vectors, 10)
    exact = faiss_run(subset, query_encoder, qids, vectors, 10)
    agree = np.mean([[d for d, _ in theirs[q]] == [d for d, _ in exact[q]] for q in qids])
    assert agree >= 0.95  # an HNSW graph built apart: approximately exact search


def test_hybrid_with_a_lucene_dense_index_equals_hybrid_with_faiss(subset, built, query_encoder):
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.index.lucene.dense import LuceneDenseIndex
    from pyserini_dr.search.faiss import DenseSearcher
    from pyserini_dr.search.hybrid import HybridSearch
    from pyserini_dr.search.lucene import BM25Searcher
    from pyserini_dr.search.lucene.dense import LuceneDenseSearcher

    topics = dict(list(subset.test_topics.items())[:50])
    bm25 = BM25Searcher(str(subset.lucene))
    lucene = HybridSearch(LuceneDenseSearcher(LuceneDenseIndex(str(built[0] / "flat")), query_encoder), bm25)
    faiss = HybridSearch(DenseSearcher(DenseIndex(str(subset.dense)), query_encoder), bm25)
    ours, theirs = (h.batch_search(topics, k0=100, hits=20, alpha=0.5) for h in (lucene, faiss))
    assert_same_run(ours, theirs)


def test_search_cli_reads_settings_from_the_index(subset, built, cli, tmp_path):
    out = tmp_path / "run.txt"
    done = cli("pyserini_dr.search.lucene", "--dense", "--index", built[0] / "flat4", "--topics", subset.cli_topics,
               "--output", out, "--hits", 5, env={"HF_HUB_OFFLINE": "1", "PYSERINI_DR_QUIET": "1"})
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 5 * 30 and lines[0].endswith("pyserini-dr-lucene-dense")


# ---- refusals: one error line -------------------------------------------------------------------------------------

def test_refusals(subset, built, cli, tmp_path):
    root = built[0]
    topics = subset.cli_topics
    out = tmp_path / "run.txt"
    search = ("pyserini_dr.search.lucene", "--topics", topics, "--output", out)
    assert cli(*search, "--dense", "--index", subset.lucene).error_line() == \
        f"error: {subset.lucene} is a Lucene index without dense vectors (a BM25 index?): search it without --dense"
    assert cli(*search, "--index", root / "hnsw8").error_line() == \
        f"error: {root / 'hnsw8'} is a Lucene dense index: add --dense"
    assert cli(*search, "--dense", "--index", subset.dense).error_line() == \
        f"error: {subset.dense} is a faiss dense index, not a Lucene one: search it with python -m " \
        "pyserini_dr.search.faiss"
    assert cli(*search, "--pooling", "mean", "--index", subset.lucene).error_line() == \
        "error: --pooling applies to dense search: add --dense"
    assert not out.exists()
    index = ("pyserini_dr.index.lucene", "--dense")
    assert cli(*index, "--flat", "-M", 8, "--input", subset.dense, "--index", tmp_path / "x").error_line() == \
        "error: -M and -efC are HNSW parameters: drop them or use --hnsw"
    assert cli(*index, "--input", subset.dense, "--index", root / "flat").error_line() == \
        f"error: index directory {root / 'flat'} exists and is not empty; remove it or pick another"
    assert cli("pyserini_dr.index.lucene", "--input", subset.dense, "--index", tmp_path / "x").error_line() == \
        "error: --input applies to dense indexes: add --dense"
    assert sorted(os.listdir(tmp_path)) == []


def test_refusals_in_process(subset, built, tmp_path, query_encoder, query_vectors):
    from pyserini_dr.index.lucene.dense import LuceneDenseIndex, LuceneDenseIndexBuilder
    from pyserini_dr.search.lucene.dense import LuceneDenseSearcher
    from pyserini_dr.index import flat_file
    from pyserini_dr.index.dense import write_dense_index, PARTIAL_FILE

    qids, vectors = query_vectors
    with pytest.raises(InputError, match=r"--hits 1001: Anserini's flat Lucene searcher returns at most 1000 hits"):
        lucene_run(built[0] / "flat", query_encoder, qids[:1], vectors[:1], 1001)
    # vectors that are not of unit length: refused before Anserini runs, nothing left behind
    raw = tmp_path / "raw"
    raw.mkdir()
    flat_file.write(str(raw / PARTIAL_FILE), np.array([[0.6, 0.8], [3.0, 4.0]], dtype=np.float32))
    write_dense_index(str(raw), ["a", "b"], {"dimension": 2})
    with pytest.raises(InputError, match=r"vector of 'b' has length 5; Lucene dense indexes \(DOT_PRODUCT\) hold "
                                         r"unit-length vectors only"):
        LuceneDenseIndexBuilder(hnsw=True).build(str(raw), str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path)) == ["raw"]
    # a query encoder of another dimension than the index (which records none: built by Anserini alone)
    small = tmp_path / "small"
    small.mkdir()
    flat_file.write(str(small / PARTIAL_FILE), np.array([[0.6, 0.8], [0.0, 1.0]], dtype=np.float32))
    write_dense_index(str(small), ["a", "b"], {"dimension": 2})
    LuceneDenseIndexBuilder(hnsw=False).build(str(small), str(tmp_path / "small-lucene"))
    for name in ("meta.json", "docid"):
        os.remove(tmp_path / "small-lucene" / name)
    index = LuceneDenseIndex(str(tmp_path / "small-lucene"))
    assert index.dimension == 2 and not index.hnsw
    with pytest.raises(InputError, match="encoder dimension 384 does not match the index's 2"):
        LuceneDenseSearcher(index, query_encoder)
    from pyserini_dr.encode.options import EncoderOptions
    from pyserini_dr.search.faiss.options import load_index_and_encoder

    with pytest.raises(InputError, match=f"^{tmp_path / 'small-lucene'} records no encoder: give --encoder$"):
        load_index_and_encoder(str(tmp_path / "small-lucene"), EncoderOptions())


def test_query_vectors_read_back_exactly(tmp_path):
    import gzip
    import pandas as pd

    from pyserini_dr.data.query_vectors import write_query_vectors

    vectors = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    write_query_vectors(str(tmp_path / "q.tsv"), ["1", "b", "3"], vectors, ["x", "y", "z"])
    rows = [line.split("\t") for line in (tmp_path / "q.tsv").read_text().splitlines()]
    assert [r[0] for r in rows] == ["1", "b", "3"]
    assert np.array_equal(np.array([json.loads(r[1]) for r in rows], dtype=np.float32), vectors)
    write_query_vectors(str(tmp_path / "q.jsonl.gz"), ["1", "b", "3"], vectors, ["x", "y", "z"])
    with gzip.open(tmp_path / "q.jsonl.gz", "rt") as f:
        assert np.array_equal(np.array([json.loads(line)["vector"] for line in f], dtype=np.float32), vectors)
    write_query_vectors(str(tmp_path / "q.pkl"), ["1", "b", "3"], vectors, ["x", "y", "z"])
    frame = pd.read_pickle(tmp_path / "q.pkl")
    assert list(frame.columns) == ["id", "text", "embedding"] and np.array_equal(np.stack(frame.embedding), vectors)
    with pytest.raises(InputError, match=r"q.npy: query vectors are written as .tsv, .jsonl, .jsonl.gz, .pkl"):
        write_query_vectors(str(tmp_path / "q.npy"), ["1"], vectors[:1], ["x"])


def test_prebuilt_round_trip_of_a_sharded_lucene_dense_index(subset, built, tmp_path, monkeypatch, cache_root):
    """build --from-index packs the shard folders; publish; searched by name, the run equals the local one."""
    import tarfile

    import yaml
    from test_prebuilt import prebuilt_main, serve

    from pyserini_dr.search.lucene.__main__ import main as search_main

    name = "scifact-subset.minilm.lucene-flat4"
    prebuilt_main("build", name, "--from-index", built[0] / "flat4", "--output-dir", tmp_path / "dist")
    entry = yaml.safe_load((tmp_path / "dist" / f"{name}.yaml").read_text())[name]
    assert (entry["type"], entry["index_type"], entry["documents"], entry["dimension"]) == \
        ("lucene-flat", "lucene-flat", len(subset.docids), 384)
    with tarfile.open(tmp_path / "dist" / entry["filename"]) as tar:
        names = tar.getnames()
    assert {f"{name}/shard0{i}" for i in range(4)} <= set(names) and f"{name}/shard03/segments_1" in names
    monkeypatch.setenv("PYSERINI_DR_PREBUILT", str(tmp_path / "registry"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runs = {}
    with serve(tmp_path / "www") as base:
        prebuilt_main("publish", name, "--from", tmp_path / "dist", "--to", tmp_path / "www", "--base-url", base,
                      "--registry", tmp_path / "registry")
        for label, index in (("local", built[0] / "flat4"), ("by-name", name)):
            assert search_main(["--dense", "--index", str(index), "--topics", str(subset.cli_topics), "--output",
                                str(tmp_path / f"{label}.txt"), "--hits", "10"]) == 0
            runs[label] = (tmp_path / f"{label}.txt").read_text()
    assert runs["by-name"] == runs["local"] and runs["local"].count("\n") == 10 * 30
    assert (cache_root / "indexes" / f"{name}.{entry['md5']}" / "shard02").is_dir()


# ---- Pyserini's own prebuilt names, found in Pyserini's cache ------------------------------------------------------

def test_pyserini_names_resolve_to_pyserini_cache(subset, built, tmp_path, monkeypatch):
    """An index Pyserini already unpacked (``$PYSERINI_CACHE/indexes/<tarball>.<md5>``) is used, not fetched again;
    one of another kind under that name is refused. (The indexes placed there are the subset's stand-ins.)"""
    import shutil

    from pyserini_dr import _pyserini
    from pyserini_dr.search.lucene.__main__ import main as search_main

    tables = _pyserini.pyserini_prebuilt_indexes()
    cache = tmp_path / "pyserini-cache"
    monkeypatch.setenv("PYSERINI_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def place(name, kind, source, drop=()):
        info = tables[kind][name]
        target = cache / "indexes" / f"{info['filename'][:-len('.tar.gz')]}.{info['md5']}"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(*drop))
        return target

    def search(index, *flags):
        out = tmp_path / f"run{len(list(tmp_path.glob('run*')))}.txt"
        assert search_main(["--index", str(index), "--topics", str(subset.cli_topics), "--output", str(out),
                            "--hits", "10", *flags]) == 0
        return out.read_text()

    place("beir-v1.0.0-scifact.flat", "lucene", subset.lucene)
    assert search("beir-v1.0.0-scifact.flat") == search(subset.lucene)
    hnsw = "beir-v1.0.0-scifact.bge-base-en-v1.5.hnsw"
    place(hnsw, "lucene-hnsw", built[0] / "hnsw8", drop=("meta.json", "docid"))  # as Pyserini's: no meta
    flags = ["--dense", "--encoder", subset.model, "--pooling", "mean", "--l2-norm"]
    assert search(hnsw, *flags) == search(built[0] / "hnsw8", *flags)
    place("beir-v1.0.0-scifact.bge-base-en-v1.5.flat", "lucene-flat", subset.lucene)  # a BM25 index under that name
    with pytest.raises(InputError, match=r"^lucene-flat\.beir-v1\.0\.0-scifact\.bge-base-en-v1\.5\..*\.tar\.gz does "
                                         r"not hold a Lucene dense index \(.* without dense vectors"):
        search("beir-v1.0.0-scifact.bge-base-en-v1.5.flat", *flags)
    with pytest.raises(InputError, match="beir-v1.0.0-scifact.flat is a prebuilt lucene index; this command needs a "
                                         "dense or lucene-flat or lucene-hnsw index"):
        search("beir-v1.0.0-scifact.flat", *flags)
