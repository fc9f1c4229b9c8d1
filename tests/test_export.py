"""Data moves both ways between Pyserini and us (issue: Pyserini parity): our datasets exported as the files
Pyserini's own tools read, and Pyserini's JsonCollection folders read by ours."""
from __future__ import annotations

import json

import pytest

from pyserini_dr.data import read_qrels, resolve_qrels, resolve_topics
from pyserini_dr.data.corpus import iter_corpus, read_corpus
from pyserini_dr.data.export import export_dataset, main as export_main
from pyserini_dr.data.runs import read_run
from pyserini_dr.data.topics import read_topics

from conftest import SCIFACT, SCIFACT_TEST


@pytest.fixture(scope="module")
def exported(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "scifact"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSERINI_DR_DATA", str(data_dir))
        counts = export_dataset(SCIFACT_TEST, str(out), corpus_name=SCIFACT, multifield=True)
    return out, counts


def test_exported_files_hold_the_dataset(exported, mirror):
    out, counts = exported
    assert counts == {"queries": 300, "judgements": 339, "documents": 5183}
    assert read_topics(out / "topics.tsv") == resolve_topics(SCIFACT_TEST)
    assert read_qrels(out / "qrels.txt") == read_qrels(resolve_qrels(SCIFACT_TEST))
    first = json.loads((out / "corpus" / "docs00.json").read_text().splitlines()[0])
    assert sorted(first) == ["contents", "id", "title"]


def test_pyserini_indexes_searches_and_scores_the_export_as_ours(exported, scifact_multifield, pyserini_cli,
                                                                 tmp_path):
    """Pyserini's own index.lucene, search.lucene and trec_eval on nothing but the exported files: the published
    BEIR multifield figure and our ranking for every query."""
    out, _ = exported
    index = tmp_path / "index"
    done = pyserini_cli("pyserini.index.lucene", "--collection", "JsonCollection", "--input", out / "corpus",
                        "--index", index, "--generator", "DefaultLuceneDocumentGenerator", "--threads", "2",
                        "--fields", "title", "--storeRaw")
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "run.txt"
    done = pyserini_cli("pyserini.search.lucene", "--index", index, "--topics", out / "topics.tsv", "--output", run,
                        "--bm25", "--fields", "contents=1.0", "title=1.0", "--hits", "1000", "--remove-query",
                        "--threads", "2", "--batch-size", "64")
    assert done.returncode == 0, done.stderr[-2000:]
    done = pyserini_cli("pyserini.eval.trec_eval", "-c", "-m", "ndcg_cut.10", out / "qrels.txt", run)
    assert done.returncode == 0, done.stderr[-2000:]
    assert next(l for l in done.stdout.splitlines() if l.startswith("ndcg_cut_10")).split()[-1] == "0.6647"
    theirs = read_run(run)
    assert theirs.keys() == scifact_multifield.run.keys()
    for qid, hits in scifact_multifield.run.items():
        assert [d for d, _ in theirs[qid]] == [d for d, _ in hits], qid


def test_a_jsoncollection_folder_reads_as_its_files_together(tmp_path, exported):
    folder = tmp_path / "collection"
    folder.mkdir()
    (folder / "b.jsonl").write_text('{"id": "3", "contents": "third"}\n')
    (folder / "a.json").write_text(json.dumps([{"id": "1", "contents": "first"}, {"id": "2", "contents": "x"}]))
    (folder / "notes.txt").write_text("not a corpus file")
    assert [(d.docid, d.text) for d in iter_corpus(folder)] == [("1", "first"), ("2", "x"), ("3", "third")]
    out, _ = exported
    assert len(read_corpus(out / "corpus")) == 5183


@pytest.mark.parametrize("files, message", [
    ({}, "a corpus folder holds .json or .jsonl files; found none"),
    ({"a.jsonl": '{"id": "1", "contents": "x"}\n', "b.jsonl": '{"id": "1", "contents": "y"}\n'},
     "b.jsonl:1: duplicate document id '1'"),
    ({"a.json": '[{"id": "1"}, 5]'}, "a.json: element 2 of the array is not a JSON object"),
])
def test_bad_folders_are_one_line(tmp_path, files, message):
    from pyserini_dr.errors import InputError

    folder = tmp_path / "c"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(InputError) as e:
        list(iter_corpus(folder))
    assert str(e.value).endswith(message)


def test_export_refuses_a_folder_that_holds_files(tmp_path, capsys, mirror):
    from pyserini_dr.cli import run_main

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as e:
        run_main(export_main, ["--topics", SCIFACT_TEST, "--output", str(tmp_path / "old")])
    assert e.value.code == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'old'} exists and is not empty (not written by this "
                                       "command): remove it or pick another --output\n")
    assert (tmp_path / "old" / "keep.txt").read_text() == "mine"


def test_pyserini_encode_jsonl_vectors_become_our_index(subset, pyserini_cli, tmp_path, capsys):
    """``pyserini.encode`` without ``--to-faiss`` writes JSON-lines vectors; ``index.faiss --input`` (as Pyserini's
    own ``pyserini.index.faiss --input``) makes them a dense index of ours: the same vectors, in file order."""
    import numpy as np

    from pyserini_dr.cli import run_main
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.index.faiss.__main__ import main as index_faiss

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = [json.loads(line) for line in subset.corpus.read_text().splitlines()[:40]]
    (corpus / "docs.jsonl").write_text("".join(json.dumps({"id": d["_id"], "contents": d["text"]}) + "\n"
                                               for d in docs))
    vectors = tmp_path / "vectors"
    done = pyserini_cli("pyserini.encode", "input", "--corpus", corpus, "output", "--embeddings", vectors,
                        "encoder", "--encoder", subset.model, "--encoder-class", "auto", "--pooling", "mean",
                        "--l2-norm", "--device", "cpu", "--batch-size", "16")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for f in sorted(vectors.glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert index_faiss(["--input", str(vectors), "--output", str(tmp_path / "ours")]) == 0
    ours = DenseIndex(str(tmp_path / "ours"))
    assert ours.docids == [r["id"] for r in rows] and len(rows) == 40
    assert np.array_equal(np.asarray(ours.vectors()), np.asarray([r["vector"] for r in rows], dtype=np.float32))
    assert ours.faiss_index().ntotal == 40
    capsys.readouterr()
    (vectors / "extra.jsonl").write_text('{"id": "x", "vector": [1, 2]}\n')
    with pytest.raises(SystemExit) as e:
        run_main(index_faiss, ["--input", str(vectors), "--output", str(tmp_path / "again")])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"error: {vectors / 'extra.jsonl'}:1: 'vector' must be a list of 384 numbers\n"
    assert not (tmp_path / "again").exists()
