"""Lucene indexes (Anserini's IndexCollection) and BM25 search (pyserini's LuceneSearcher), in-process."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pyserini_dr.data import read_run
from pyserini_dr.errors import InputError
from pyserini_dr.eval import evaluate
from pyserini_dr.index.lucene import LuceneIndexBuilder
from pyserini_dr.search.lucene import BM25Searcher


def first_line(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.loads(f.readline())


def tiny_corpus(path: Path) -> Path:
    rows = [{"_id": "a", "title": "Fruit", "text": "apple banana"},
            {"_id": "b", "title": "More fruit", "text": "banana cherry"},
            {"_id": "c", "title": "", "text": "cherry date"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---- SciFact: Pyserini's BEIR regressions ----------------------------------------------------------------------

def test_scifact_bm25_flat(scifact_flat):
    scores = evaluate(scifact_flat.qrels, scifact_flat.run, ["ndcg_cut.10", "recall.100"])
    assert scores["ndcg_cut.10"] == pytest.approx(0.6789, abs=0.001)
    assert scores["recall.100"] == pytest.approx(0.9253, abs=0.001)
    # the same numbers from the run as written to disk
    assert evaluate(scifact_flat.qrels, read_run(scifact_flat.run_file), ["ndcg_cut.10", "recall.100"]) == \
        pytest.approx(scores, abs=1e-6)


def test_scifact_bm25_multifield(scifact_multifield):
    scores = evaluate(scifact_multifield.qrels, scifact_multifield.run, ["ndcg_cut.10", "recall.100"])
    assert scores["ndcg_cut.10"] == pytest.approx(0.6647, abs=0.001)
    assert scores["recall.100"] == pytest.approx(0.9076, abs=0.001)


@pytest.mark.parametrize("case", ["scifact_flat", "scifact_multifield"])
def test_scifact_run_shape(request, case):
    bm25 = request.getfixturevalue(case)
    assert len(bm25.topics) == 300 and set(bm25.run) == set(bm25.topics) == set(bm25.qrels)
    assert all(0 < len(hits) <= 1000 for hits in bm25.run.values())
    assert sum(len(h) for h in bm25.run.values()) > 290_000
    for qid, hits in bm25.run.items():
        assert qid not in {docid for docid, _ in hits}  # --remove-query
        assert len({docid for docid, _ in hits}) == len(hits)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
    with open(bm25.run_file) as f:
        assert sum(1 for _ in f) == sum(len(h) for h in bm25.run.values())


def test_scifact_flat_index_content(scifact_flat, data_dir):
    assert (scifact_flat.stats.documents, scifact_flat.stats.empty) == (5183, 0)
    searcher = BM25Searcher(str(scifact_flat.index)).searcher
    assert searcher.num_docs == 5183
    doc = first_line(data_dir / "scifact" / "corpus.jsonl")
    assert json.loads(searcher.doc(doc["_id"]).get("raw")) == {"id": doc["_id"],
                                                               "contents": f"{doc['title']} {doc['text']}"}


def test_scifact_multifield_index_content(scifact_multifield, data_dir):
    assert (scifact_multifield.stats.documents, scifact_multifield.stats.empty) == (5183, 0)
    searcher = BM25Searcher(str(scifact_multifield.index)).searcher
    assert searcher.num_docs == 5183
    doc = first_line(data_dir / "scifact" / "corpus.jsonl")
    assert json.loads(searcher.doc(doc["_id"]).get("raw")) == {"id": doc["_id"], "contents": doc["text"],
                                                               "title": doc["title"]}
    # the title is a field of its own: a title-only search finds the document by its exact title
    title_only = BM25Searcher(str(scifact_multifield.index), fields={"title": 1.0})
    assert doc["_id"] in [d for d, _ in title_only.search(doc["title"], hits=3)]


def test_remove_query_drops_only_the_query_id(scifact_flat):
    searcher = BM25Searcher(str(scifact_flat.index))
    topics = dict(list(scifact_flat.topics.items())[:20])
    plain = searcher.batch_search(topics, hits=50)
    removed = searcher.batch_search(topics, hits=50, remove_query=True)
    assert removed == {qid: [h for h in hits if h[0] != qid] for qid, hits in plain.items()}


def test_remove_query_with_a_colliding_id(scifact_flat, data_dir):
    # a query whose id is a document id and whose text is that document: the document comes first, unless removed
    doc = first_line(data_dir / "scifact" / "corpus.jsonl")
    searcher = BM25Searcher(str(scifact_flat.index))
    topics = {doc["_id"]: f"{doc['title']} {doc['text']}"}
    assert searcher.batch_search(topics, hits=5)[doc["_id"]][0][0] == doc["_id"]
    removed = searcher.batch_search(topics, hits=5, remove_query=True)[doc["_id"]]
    assert doc["_id"] not in [d for d, _ in removed] and len(removed) == 4


def test_bm25_parameters_change_scores(scifact_flat):
    query = {"q": "vitamin D deficiency and cardiovascular disease"}
    default = BM25Searcher(str(scifact_flat.index)).batch_search(query, hits=10)["q"]
    other = BM25Searcher(str(scifact_flat.index), k1=1.2, b=0.75).batch_search(query, hits=10)["q"]
    assert default == BM25Searcher(str(scifact_flat.index), k1=0.9, b=0.4).batch_search(query, hits=10)["q"]
    assert [s for _, s in default] != [s for _, s in other]


# ---- Cranfield --------------------------------------------------------------------------------------------------

def test_cranfield_bm25(cranfield_flat):
    assert len(cranfield_flat.topics) == 225 and len(cranfield_flat.run) == 225
    assert (cranfield_flat.stats.documents, cranfield_flat.stats.empty) == (1400, 2)
    scores = evaluate(cranfield_flat.qrels, cranfield_flat.run, ["ndcg_cut.10", "map"])
    # measured with this index and confirmed by Anserini's trec_eval binary in test_eval.py
    assert scores["ndcg_cut.10"] == pytest.approx(0.3510, abs=0.0005)
    assert scores["map"] == pytest.approx(0.2879, abs=0.0005)


def test_cranfield_empty_documents_are_counted_and_not_in_lucene(cranfield_flat):
    """Anserini skips a document with empty contents (as in Pyserini's indexes): Cranfield 471 and 995."""
    searcher = BM25Searcher(str(cranfield_flat.index)).searcher
    assert searcher.doc("471") is None and searcher.doc("995") is None and searcher.doc("470") is not None
    assert searcher.num_docs == 1398
    assert cranfield_flat.stats.not_indexed == 2


# ---- small indexes built by the tests ---------------------------------------------------------------------------

def test_search_tiny_index_exact_ranking(tmp_path):
    stats = LuceneIndexBuilder().build(str(tiny_corpus(tmp_path / "c.jsonl")), str(tmp_path / "idx"))
    assert str(stats) == "3 documents (0 with empty text, kept)"
    searcher = BM25Searcher(str(tmp_path / "idx"))
    assert searcher.searcher.num_docs == 3
    run = searcher.batch_search({"q1": "apple", "q2": "cherry", "q3": "zebra"}, hits=10)
    assert [d for d, _ in run["q1"]] == ["a"]
    assert {d for d, _ in run["q2"]} == {"b", "c"}
    assert run["q3"] == []
    assert searcher.search("apple", hits=10) == run["q1"]
    assert json.loads(searcher.searcher.doc("a").get("raw")) == {"id": "a", "contents": "Fruit apple banana"}


def test_index_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "keep.txt").write_text("mine")
    with pytest.raises(InputError) as e:
        LuceneIndexBuilder().build(str(tiny_corpus(tmp_path / "c.jsonl")), str(tmp_path / "idx"))
    assert str(e.value) == f"index directory {tmp_path / 'idx'} exists and is not empty; remove it or pick another"
    assert os.listdir(tmp_path / "idx") == ["keep.txt"]


def test_index_into_an_existing_empty_directory(tmp_path):
    (tmp_path / "idx").mkdir()
    LuceneIndexBuilder().build(str(tiny_corpus(tmp_path / "c.jsonl")), str(tmp_path / "idx"))
    assert BM25Searcher(str(tmp_path / "idx")).searcher.num_docs == 3
    assert sorted(os.listdir(tmp_path)) == ["c.jsonl", "idx"]  # no build folder left behind


def test_failed_build_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    with pytest.raises(InputError) as e:
        LuceneIndexBuilder().build(str(bad), str(tmp_path / "out" / "idx"))
    assert str(e.value) == f"{bad}:2: duplicate document id 'a'"
    assert os.listdir(tmp_path / "out") == []
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError) as e:
        LuceneIndexBuilder().build(str(empty), str(tmp_path / "out" / "idx"))
    assert str(e.value) == f"{empty}: no documents"
    assert os.listdir(tmp_path / "out") == []


def test_searcher_missing_index(tmp_path):
    with pytest.raises(InputError) as e:
        BM25Searcher(str(tmp_path / "nope"))
    assert str(e.value) == f"no such Lucene index directory: {tmp_path / 'nope'}"


EMPTY_TEXT_CORPUS = [{"_id": "full", "title": "Alpha", "text": "apples and bananas"},
                     {"_id": "title-only", "title": "Beta title only", "text": ""},
                     {"_id": "blank", "title": "", "text": ""},
                     {"_id": "spaces", "title": " ", "text": "   "}]


@pytest.fixture
def empty_text_corpus(tmp_path) -> Path:
    path = tmp_path / "empty-text.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in EMPTY_TEXT_CORPUS))
    return path


def test_index_cli_in_process_counts_empty_documents(tmp_path, empty_text_corpus, capsys):
    from pyserini_dr.index.lucene.__main__ import main

    assert main(["--corpus", str(empty_text_corpus), "--index", str(tmp_path / "idx")]) == 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"indexed 4 documents (2 with empty text, kept) into {tmp_path / 'idx'} in ")


def test_flat_index_skips_documents_with_empty_contents(tmp_path, empty_text_corpus):
    stats = LuceneIndexBuilder().build(str(empty_text_corpus), str(tmp_path / "idx"))
    assert str(stats) == "4 documents (2 with empty text, kept)"
    assert stats.not_indexed == 2
    searcher = BM25Searcher(str(tmp_path / "idx")).searcher
    assert [searcher.doc(r["_id"]) is not None for r in EMPTY_TEXT_CORPUS] == [True, True, False, False]
    assert searcher.num_docs == 2


def test_multifield_index_skips_documents_without_text(tmp_path, empty_text_corpus):
    """Multifield ``contents`` is the text alone, so a title-only document is skipped too (as in Anserini)."""
    stats = LuceneIndexBuilder(multifield=True).build(str(empty_text_corpus), str(tmp_path / "idx"))
    assert stats.not_indexed == 3
    searcher = BM25Searcher(str(tmp_path / "idx")).searcher
    assert [searcher.doc(r["_id"]) is not None for r in EMPTY_TEXT_CORPUS] == [True, False, False, False]
    assert searcher.num_docs == 1


def test_search_cli_in_process(tmp_path, capsys):
    """The search command's wiring (topics file, fields, hits, formats, tag), on a tiny index, in this process."""
    from pyserini_dr.search.lucene.__main__ import main as search_main

    LuceneIndexBuilder(multifield=True).build(str(tiny_corpus(tmp_path / "c.jsonl")), str(tmp_path / "idx"))
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tfruit\nq2\tbanana\n")
    # "fruit" is only in titles: found through the title field, not through contents (the text)
    assert search_main(["--index", str(tmp_path / "idx"), "--topics", str(topics), "--output",
                        str(tmp_path / "run.tsv"), "--output-format", "msmarco", "--fields", "title=1.0"]) == 0
    assert capsys.readouterr().err.strip().endswith(f"-> {tmp_path / 'run.tsv'}")
    lines = (tmp_path / "run.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["q1", "q1"]  # q2: no title has "banana"
    assert sorted(line.split("\t")[1] for line in lines) == ["a", "b"]
    assert [line.split("\t")[2] for line in lines] == ["1", "2"]

    assert search_main(["--index", str(tmp_path / "idx"), "--topics", str(topics), "--output",
                        str(tmp_path / "run.trec"), "--hits", "2", "--fields", "contents=1", "--run-tag", "t"]) == 0
    rows = [line.split() for line in (tmp_path / "run.trec").read_text().splitlines()]
    # q1 "fruit" is not in any text (multifield contents = text only); q2 "banana" is in a and b
    assert [[r[0], r[1], r[3], r[5]] for r in rows] == [["q2", "Q0", "1", "t"], ["q2", "Q0", "2", "t"]]
    assert sorted(r[2] for r in rows) == ["a", "b"]
    assert float(rows[0][4]) >= float(rows[1][4]) > 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_search_cli_bad_fields(tmp_path):
    from pyserini_dr.search.lucene.options import parse_fields

    assert parse_fields(["contents=1.0", "title=2", "body"]) == {"contents": 1.0, "title": 2.0, "body": 1.0}
    with pytest.raises(InputError) as e:
        parse_fields(["title=heavy"])
    assert str(e.value) == "--fields takes name=boost pairs, got 'title=heavy'"
