"""Data readers and writers, atomic writes, the dataset registry and its checksummed downloads."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import socket
import threading
import types
import zipfile
from pathlib import Path

import pytest

from conftest import need
from pyserini_dr.files import atomic_path, atomic_write
from pyserini_dr.data import (DATASETS, Document, read_corpus, read_qrels, read_run, read_topics, resolve_corpus,
                              resolve_qrels, resolve_topics, sort_hits, write_json_collection, write_run,
                              write_topics_tsv, write_trec_qrels)
from pyserini_dr.data import registry
from pyserini_dr.data.corpus import CorpusStats
from pyserini_dr.errors import InputError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows) -> Path:
    return write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def files_under(root: Path) -> list[str]:
    return sorted(str(Path(d, f).relative_to(root)) for d, _, fs in os.walk(root) for f in fs)


# ---- corpus -----------------------------------------------------------------------------------------------------

def test_beir_corpus_lines(tmp_path):
    path = jsonl(tmp_path / "corpus.jsonl", [
        {"_id": "d1", "title": "Aspirin", "text": "reduces fever.", "metadata": {}},
        {"_id": 2, "title": "", "text": "no title here"},
        {"_id": "d3", "text": "title key absent"},
        {"_id": "d4", "title": None, "text": None},
    ])
    stats = CorpusStats()
    docs = read_corpus(path, stats)
    assert docs == [Document("d1", "Aspirin", "reduces fever."), Document("2", "", "no title here"),
                    Document("d3", "", "title key absent"), Document("d4", "", "")]
    assert [d.contents for d in docs] == ["Aspirin reduces fever.", "no title here", "title key absent", ""]
    assert (stats.documents, stats.empty) == (4, 1)
    assert str(stats) == "4 documents (1 with empty text, kept)"


def test_json_collection_corpus_lines_and_gzip(tmp_path):
    rows = [{"id": "a", "contents": "alpha beta"}, {"id": "b", "contents": ""}, {"docid": "c", "text": "gamma"}]
    path = tmp_path / "collection.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    stats = CorpusStats()
    assert read_corpus(path, stats) == [Document("a", "", "alpha beta"), Document("b", "", ""),
                                        Document("c", "", "gamma")]
    assert str(stats) == "3 documents (1 with empty text, kept)"


def test_corpus_counts_thousands_with_separators():
    stats = CorpusStats()
    stats.documents, stats.empty = 5183, 1234
    assert str(stats) == "5,183 documents (1,234 with empty text, kept)"


def test_corpus_malformed_json_names_file_and_line(tmp_path):
    # the blank line 2 is skipped but still counted, so the bad line is line 3
    path = write(tmp_path / "corpus.jsonl", '{"_id": "a", "text": "x"}\n\n{"_id": "b" "text": "x"}\n')
    with pytest.raises(InputError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:3: malformed JSON (Expecting ',' delimiter at column 13)"


def test_corpus_line_that_is_not_an_object(tmp_path):
    path = write(tmp_path / "corpus.jsonl", '[1, 2]\n')
    with pytest.raises(InputError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:1: expected a JSON object, found list"


def test_corpus_document_without_id(tmp_path):
    path = jsonl(tmp_path / "corpus.jsonl", [{"_id": "a", "text": "x"}, {"title": "t", "text": "no id"}])
    with pytest.raises(InputError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:2: document has no _id (or id)"
    path = jsonl(tmp_path / "empty-id.jsonl", [{"_id": "", "text": "x"}])
    with pytest.raises(InputError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:1: document has no _id (or id)"


def test_corpus_duplicate_id(tmp_path):
    path = jsonl(tmp_path / "corpus.jsonl", [{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"},
                                             {"_id": "a", "text": "z"}])
    with pytest.raises(InputError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:3: duplicate document id 'a'"


def test_missing_corpus_file(tmp_path):
    with pytest.raises(InputError) as e:
        read_corpus(tmp_path / "nope.jsonl")
    assert str(e.value) == f"no such file: {tmp_path / 'nope.jsonl'}"


def test_write_json_collection_flat_and_multifield(tmp_path):
    docs = [Document("d1", "Title One", "body one"), Document("d2", "", "body two"), Document("d3", "Tïtle", "")]
    assert write_json_collection(docs, tmp_path / "flat") == 3
    assert os.listdir(tmp_path / "flat") == ["docs00.json"]
    assert [json.loads(line) for line in (tmp_path / "flat" / "docs00.json").read_text("utf-8").splitlines()] == [
        {"id": "d1", "contents": "Title One body one"}, {"id": "d2", "contents": "body two"},
        {"id": "d3", "contents": "Tïtle"}]
    assert "Tïtle" in (tmp_path / "flat" / "docs00.json").read_text("utf-8")  # not \u-escaped

    assert write_json_collection(docs, tmp_path / "mf", multifield=True, docs_per_file=2) == 3
    assert sorted(os.listdir(tmp_path / "mf")) == ["docs00.json", "docs01.json"]
    rows = [json.loads(line) for name in ("docs00.json", "docs01.json")
            for line in (tmp_path / "mf" / name).read_text("utf-8").splitlines()]
    assert rows == [{"id": "d1", "contents": "body one", "title": "Title One"},
                    {"id": "d2", "contents": "body two", "title": ""},
                    {"id": "d3", "contents": "", "title": "Tïtle"}]


# ---- topics -----------------------------------------------------------------------------------------------------

def test_topics_jsonl_in_file_order_and_split_filter(tmp_path):
    path = jsonl(tmp_path / "queries.jsonl", [{"_id": "3", "text": "third", "metadata": {}},
                                              {"_id": 1, "text": "first"}, {"id": "2", "title": "second"}])
    topics = read_topics(path)
    assert topics == {"3": "third", "1": "first", "2": "second"}
    assert list(topics) == ["3", "1", "2"]
    assert read_topics(path, {"2", "3", "99"}) == {"3": "third", "2": "second"}
    with pytest.raises(InputError) as e:
        read_topics(path, {"99"})
    assert str(e.value) == f"{path}: no topics for the requested query ids"


def test_topics_tsv(tmp_path):
    path = write(tmp_path / "topics.tsv", "q1\twhat is bm25\n\nq2\t  tabs\tinside  \n")
    assert read_topics(path) == {"q1": "what is bm25", "q2": "tabs\tinside"}


def test_topics_tsv_malformed_line(tmp_path):
    path = write(tmp_path / "topics.tsv", "q1\tfine\nno tab on this line\n")
    with pytest.raises(InputError) as e:
        read_topics(path)
    assert str(e.value) == f"{path}:2: expected 'qid<TAB>query', found 'no tab on this line'"


def test_topics_errors(tmp_path):
    dup = write(tmp_path / "dup.tsv", "q1\ta\nq1\tb\n")
    with pytest.raises(InputError) as e:
        read_topics(dup)
    assert str(e.value) == f"{dup}:2: duplicate query id 'q1'"
    no_text = jsonl(tmp_path / "no-text.jsonl", [{"_id": "q1"}])
    with pytest.raises(InputError) as e:
        read_topics(no_text)
    assert str(e.value) == f"{no_text}:1: query q1 has no text"
    no_id = jsonl(tmp_path / "no-id.jsonl", [{"text": "orphan"}])
    with pytest.raises(InputError) as e:
        read_topics(no_id)
    assert str(e.value) == f"{no_id}:1: query has no id"
    blank = write(tmp_path / "blank.tsv", "\n\n")
    with pytest.raises(InputError) as e:
        read_topics(blank)
    assert str(e.value) == f"{blank}: no topics"


def test_write_topics_tsv_round_trip(tmp_path):
    path = tmp_path / "out" / "topics.tsv"
    write_topics_tsv({"q2": "two  words\nand\ta line", "q1": "one"}, path)
    assert path.read_text() == "q2\ttwo  words and a line\nq1\tone\n"  # only the breaks the format forbids go
    assert read_topics(path) == {"q2": "two  words and a line", "q1": "one"}


# ---- qrels ------------------------------------------------------------------------------------------------------

def test_qrels_beir_with_header(tmp_path):
    path = write(tmp_path / "test.tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td1\t2\n")
    assert read_qrels(path) == {"1": {"d1": 1, "d2": 0}, "2": {"d1": 2}}


def test_qrels_trec(tmp_path):
    path = write(tmp_path / "qrels.txt", "q1 0 d1 1\nq1 0 d2 3\nq2\tQ0\td9\t1.0\nq3 0 d1 -1\n")
    assert read_qrels(path) == {"q1": {"d1": 1, "d2": 3}, "q2": {"d9": 1}, "q3": {"d1": -1}}


def test_qrels_errors(tmp_path):
    bad = write(tmp_path / "bad.txt", "q1 0 d1 1\nq1 d2\n")
    with pytest.raises(InputError) as e:
        read_qrels(bad)
    assert str(e.value) == f"{bad}:2: expected 4 columns like the first line, found 2"
    lost_grade = write(tmp_path / "lost.txt", "q1 0 d1 1\nq1 0 d2\n")  # not a BEIR line judging d2 as 0
    with pytest.raises(InputError) as e:
        read_qrels(lost_grade)
    assert str(e.value) == f"{lost_grade}:2: expected 4 columns like the first line, found 3"
    first = write(tmp_path / "first.txt", "q1 d1\n")
    with pytest.raises(InputError) as e:
        read_qrels(first)
    assert str(e.value) == f"{first}:1: expected 3 (BEIR) or 4 (TREC) qrels columns, found 2"
    rel = write(tmp_path / "rel.txt", "q1 0 d1 yes\n")
    with pytest.raises(InputError) as e:
        read_qrels(rel)
    assert str(e.value) == f"{rel}:1: relevance 'yes' is not a whole number"
    for grade in ("inf", "nan", "1.5", "-inf"):
        odd = write(tmp_path / "odd.txt", f"q1 0 d1 {grade}\n")
        with pytest.raises(InputError) as e:
            read_qrels(odd)
        assert str(e.value) == f"{odd}:1: relevance {grade!r} is not a whole number"
    assert read_qrels(write(tmp_path / "float.txt", "q1 0 d1 2.0\nq1 0 d2 -1\n")) == {"q1": {"d1": 2, "d2": -1}}
    header_only = write(tmp_path / "header.tsv", "query-id\tcorpus-id\tscore\n")
    with pytest.raises(InputError) as e:
        read_qrels(header_only)
    assert str(e.value) == f"{header_only}: no judgements"


def test_write_trec_qrels(tmp_path):
    qrels = {"2": {"b": 0, "a": 2}, "1": {"c": 1}}
    path = tmp_path / "qrels.trec"
    write_trec_qrels(qrels, path)
    assert path.read_text() == "2 0 b 0\n2 0 a 2\n1 0 c 1\n"
    assert read_qrels(path) == qrels


# ---- runs -------------------------------------------------------------------------------------------------------

def test_run_trec_sorted_by_score_then_docid(tmp_path):
    # the rank column is ignored: order is score descending, then docid ascending
    path = write(tmp_path / "run.trec", "q1 Q0 d3 1 1.5 tag\nq1 Q0 d1 2 2.0 tag\nq1 Q0 d2 3 1.5 tag\n"
                                        "q2 Q0 x 1 -0.25 tag\n")
    assert read_run(path) == {"q1": [("d1", 2.0), ("d2", 1.5), ("d3", 1.5)], "q2": [("x", -0.25)]}


def test_run_msmarco_scores_are_reciprocal_ranks(tmp_path):
    path = write(tmp_path / "run.tsv", "q1\tp7\t2\nq1\tp9\t1\nq1\tp3\t4\nq2\tp1\t1\n")
    assert read_run(path) == {"q1": [("p9", 1.0), ("p7", 0.5), ("p3", 0.25)], "q2": [("p1", 1.0)]}


def test_run_errors(tmp_path):
    cases = {
        "q1 Q0 d1 1\n": "{p}:1: a run line has 6 (TREC) or 3 (MS MARCO) columns, found 4",
        "q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 0.5\n": "{p}:2: expected 6 columns like the first line, found 5",
        "q1\td1\t1\nq1 Q0 d2 2 0.5 t\n": "{p}:2: expected 3 columns like the first line, found 6",
        "q1 Q0 d1 1 high t\n": "{p}:1: bad score in 'q1 Q0 d1 1 high t'",
        "q1\td1\t0\n": "{p}:1: bad rank in 'q1\\td1\\t0'",
        "\n \n": "{p}: empty run",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = write(tmp_path / f"run{i}.txt", text)
        with pytest.raises(InputError) as e:
            read_run(path)
        assert str(e.value) == message.format(p=path)


def test_sort_hits():
    assert sort_hits([("b", 1.0), ("c", 2.0), ("a", 1.0)]) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


def test_write_run_trec_deterministic_tie_breaking(tmp_path):
    run = {"q2": [("d2", 1.0), ("d10", 1.0), ("d1", 3.25)], "q1": [("z", 0.1234567)]}
    path = tmp_path / "run.trec"
    assert write_run(run, path, tag="t") == 4
    assert path.read_text() == ("q2 Q0 d1 1 3.250000 t\nq2 Q0 d10 2 1.000000 t\nq2 Q0 d2 3 1.000000 t\n"
                                "q1 Q0 z 1 0.123457 t\n")
    # the same hits in another order give the same file
    write_run({"q2": list(reversed(run["q2"])), "q1": run["q1"]}, tmp_path / "again.trec", tag="t")
    assert (tmp_path / "again.trec").read_text() == path.read_text()
    assert write_run(run, tmp_path / "cut.trec", hits=2) == 3
    assert (tmp_path / "cut.trec").read_text() == ("q2 Q0 d1 1 3.250000 pyserini-dr\nq2 Q0 d10 2 1.000000 "
                                                   "pyserini-dr\nq1 Q0 z 1 0.123457 pyserini-dr\n")


def test_write_run_msmarco(tmp_path):
    path = tmp_path / "run.tsv"
    assert write_run({"q1": [("b", 0.5), ("a", 0.5), ("c", 0.9)]}, path, output_format="msmarco") == 3
    assert path.read_text() == "q1\tc\t1\nq1\ta\t2\nq1\tb\t3\n"
    assert read_run(path) == {"q1": [("c", 1.0), ("a", 0.5), ("b", 1 / 3)]}
    with pytest.raises(InputError) as e:
        write_run({"q1": [("a", 1.0)]}, tmp_path / "x.txt", output_format="csv")
    assert str(e.value) == "unknown output format 'csv' (trec or msmarco)"
    assert not (tmp_path / "x.txt").exists()


# ---- atomic writes ----------------------------------------------------------------------------------------------

def test_atomic_write_failure_keeps_previous_file(tmp_path):
    path = write(tmp_path / "run.txt", "previous content\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path) as f:
            f.write("half of the new content")
            f.flush()
            raise RuntimeError("boom")
    assert path.read_text() == "previous content\n"
    assert os.listdir(tmp_path) == ["run.txt"]


def test_atomic_write_success_replaces_and_creates_directories(tmp_path):
    path = write(tmp_path / "run.txt", "old\n")
    with atomic_write(path) as f:
        f.write("new\n")
        assert path.read_text() == "old\n"  # not visible before the block ends
    assert path.read_text() == "new\n"
    nested = tmp_path / "a" / "b" / "out.bin"
    with atomic_write(nested, "wb") as f:
        f.write(b"\x00\x01")
    assert nested.read_bytes() == b"\x00\x01"
    assert files_under(tmp_path) == ["a/b/out.bin", "run.txt"]


def test_atomic_path_failure_leaves_nothing(tmp_path):
    target = tmp_path / "index.bin"
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("partial")
            raise KeyError("x")
    assert os.listdir(tmp_path) == []


def test_write_run_failure_mid_write_keeps_previous_run(tmp_path):
    path = write(tmp_path / "run.trec", "q0 Q0 d0 1 1.000000 old\n")
    with pytest.raises(TypeError):
        # the first query is written, the second one's score cannot be sorted: the write fails part-way
        write_run({"q1": [("d1", 1.0)], "q2": [("d2", "not a number")]}, path)
    assert path.read_text() == "q0 Q0 d0 1 1.000000 old\n"
    assert os.listdir(tmp_path) == ["run.trec"]


# ---- registry: names -> files -----------------------------------------------------------------------------------

def test_dataset_names():
    assert DATASETS == ["beir-v1.0.0-scifact", "beir-v1.0.0-scifact-test", "beir-v1.0.0-scifact-train",
                        "cranfield", "dl19-passage", "dl20", "dl20-passage", "msmarco-passage-dev-subset"]


def test_files_pass_through(tmp_path):
    corpus = jsonl(tmp_path / "c.jsonl", [{"_id": "a", "text": "x"}])
    qrels = write(tmp_path / "q.txt", "1 0 a 1\n")
    topics = write(tmp_path / "t.tsv", "1\thello\n")
    assert resolve_corpus(str(corpus)) == str(corpus)
    assert resolve_qrels(str(qrels)) == str(qrels)
    assert resolve_topics(str(topics)) == {"1": "hello"}


def test_unknown_names():
    with pytest.raises(InputError) as e:
        resolve_corpus("nope")
    assert str(e.value) == "unknown corpus 'nope': not a file, and not one of beir-v1.0.0-scifact, cranfield"
    names = ("beir-v1.0.0-scifact-test, beir-v1.0.0-scifact-train, cranfield, dl19-passage, dl20, dl20-passage, "
             "msmarco-passage-dev-subset")
    with pytest.raises(InputError) as e:
        resolve_topics("nope")
    assert str(e.value) == f"unknown topics 'nope': not a file, and not one of {names}"
    with pytest.raises(InputError) as e:
        resolve_qrels("beir-v1.0.0-scifact")
    assert str(e.value) == f"unknown qrels 'beir-v1.0.0-scifact': not a file, and not one of {names}"


@pytest.mark.parametrize("name, count", [
    ("beir-v1.0.0-scifact-test", 300), ("beir-v1.0.0-scifact-train", 809), ("dl19-passage", 43), ("dl20", 200),
    ("dl20-passage", 200), ("msmarco-passage-dev-subset", 6980), ("cranfield", 225)])
def test_topic_splits(mirror, name, count, cache_root):
    spec = registry.TOPICS[registry.QRELS_ALIASES.get(name, name)]
    need(mirror, f"{spec.collection}/{spec.queries}", f"{spec.collection}/{spec.qrels}")
    topics = resolve_topics(name)
    assert len(topics) == count
    assert all(text.strip() for text in topics.values())
    if spec.filter_by_qrels:  # a BEIR split is exactly the judged queries of that split
        assert set(topics) == set(read_qrels(resolve_qrels(name)))
    assert files_under(cache_root) == []  # read from the mirror, nothing cached


def test_scifact_splits_are_disjoint_and_first_test_query(mirror):
    need(mirror, "scifact/queries.jsonl", "scifact/qrels/test.tsv", "scifact/qrels/train.tsv")
    test, train = resolve_topics("beir-v1.0.0-scifact-test"), resolve_topics("beir-v1.0.0-scifact-train")
    assert not set(test) & set(train)
    assert resolve_qrels("beir-v1.0.0-scifact-test") == str(mirror / "scifact" / "qrels" / "test.tsv")
    assert resolve_corpus("beir-v1.0.0-scifact") == str(mirror / "scifact" / "corpus.jsonl")
    qrels = read_qrels(resolve_qrels("beir-v1.0.0-scifact-test"))
    assert (len(qrels), sum(len(d) for d in qrels.values())) == (300, 339)


def test_dev_subset_qrels_counts(mirror):
    need(mirror, "msmarco-passage-eval/qrels/dev.tsv")
    qrels = read_qrels(resolve_qrels("msmarco-passage-dev-subset"))
    assert (len(qrels), sum(len(d) for d in qrels.values())) == (6980, 7437)
    assert resolve_qrels("dl20-passage") == resolve_qrels("dl20") == str(mirror / "msmarco-passage-eval" / "qrels"
                                                                         / "dl20.tsv")


# ---- registry: downloads into the cache (a local HTTP server; nothing leaves 127.0.0.1) ------------------------

SCIFACT_FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels/train.tsv")
MINI_CORPUS = [{"_id": "4983", "title": "Microstructural development", "text": "Alterations of the architecture."},
               {"_id": "5836", "title": "Induction of myelodysplasia", "text": "Myelodysplastic syndromes."},
               {"_id": "7912", "title": "BC1 RNA", "text": ""}]
MINI_QUERIES = [{"_id": "0", "text": "0-dimensional biomaterials lack inductive properties."},
                {"_id": "1", "text": "1 in 5 million in UK have abnormal PrP positivity."},
                {"_id": "2", "text": "1-1% of colorectal cancer patients are diagnosed."},
                {"_id": "3", "text": "10% of sudden infant death syndrome deaths happen in newborns."}]


def _mini_beir_zip() -> bytes:
    """A zip laid out like BEIR's scifact.zip: scifact/{corpus.jsonl, queries.jsonl, qrels/{test,train}.tsv}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("scifact/", "")
        z.writestr("scifact/corpus.jsonl", "".join(json.dumps(d) + "\n" for d in MINI_CORPUS))
        z.writestr("scifact/queries.jsonl", "".join(json.dumps(q) + "\n" for q in MINI_QUERIES))
        z.writestr("scifact/qrels/", "")
        z.writestr("scifact/qrels/test.tsv", "query-id\tcorpus-id\tscore\n0\t4983\t1\n2\t5836\t1\n2\t7912\t1\n")
        z.writestr("scifact/qrels/train.tsv", "query-id\tcorpus-id\tscore\n1\t7912\t1\n")
    return buffer.getvalue()


@pytest.fixture
def http_server():
    """A local HTTP server in a thread: ``files[path] = (body, announced Content-Length or None)``."""
    files, requests = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            if self.path not in files:
                self.send_error(404)
                return
            body, announced = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body) if announced is None else announced))
            self.end_headers()
            self.wfile.write(body)  # HTTP/1.0: the connection closes after the body, short or not

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}", files=files,
                                    requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _point_scifact_at(monkeypatch, urls, md5: str, size: int | None):
    source = registry.Source("scifact.zip", tuple(urls), md5, size, registry._unzip_beir("scifact"))
    monkeypatch.setattr(registry, "_SCIFACT_ZIP", source)
    monkeypatch.setitem(registry.COLLECTIONS, "scifact",
                        registry.Collection({p: source for p in SCIFACT_FILES}))
    return source


def test_download_resolves_and_caches(http_server, monkeypatch, cache_root):
    body = _mini_beir_zip()
    md5 = hashlib.md5(body).hexdigest()
    http_server.files["/scifact.zip"] = (body, None)
    _point_scifact_at(monkeypatch, [http_server.url + "/scifact.zip"], md5, len(body))

    corpus = resolve_corpus("beir-v1.0.0-scifact")
    assert corpus == str(cache_root / "data" / "scifact" / "corpus.jsonl")
    assert read_corpus(corpus) == [Document(d["_id"], d["title"], d["text"]) for d in MINI_CORPUS]
    assert http_server.requests == ["/scifact.zip"]
    # every file of the collection came out of that one download; the next calls do not download again
    assert resolve_topics("beir-v1.0.0-scifact-test") == {"0": MINI_QUERIES[0]["text"], "2": MINI_QUERIES[2]["text"]}
    assert resolve_topics("beir-v1.0.0-scifact-train") == {"1": MINI_QUERIES[1]["text"]}
    assert read_qrels(resolve_qrels("beir-v1.0.0-scifact-test")) == {"0": {"4983": 1}, "2": {"5836": 1, "7912": 1}}
    assert resolve_corpus("beir-v1.0.0-scifact") == corpus
    assert http_server.requests == ["/scifact.zip"]
    assert files_under(cache_root) == ["data/scifact/corpus.jsonl", "data/scifact/qrels/test.tsv",
                                       "data/scifact/qrels/train.tsv", "data/scifact/queries.jsonl",
                                       "downloads/scifact.zip"]
    assert (cache_root / "downloads" / "scifact.zip").read_bytes() == body

    # a verified archive already in the cache is reused: the mirror folder is rebuilt without a request
    for name in SCIFACT_FILES:
        (cache_root / "data" / "scifact" / name).unlink()
    assert resolve_corpus("beir-v1.0.0-scifact") == corpus
    assert http_server.requests == ["/scifact.zip"]


def test_download_falls_back_to_the_next_url(http_server, monkeypatch, cache_root):
    body = _mini_beir_zip()
    http_server.files["/mirror2/scifact.zip"] = (body, None)
    _point_scifact_at(monkeypatch, [http_server.url + "/gone/scifact.zip", http_server.url + "/mirror2/scifact.zip"],
                      hashlib.md5(body).hexdigest(), len(body))
    assert resolve_corpus("beir-v1.0.0-scifact") == str(cache_root / "data" / "scifact" / "corpus.jsonl")
    assert http_server.requests == ["/gone/scifact.zip", "/mirror2/scifact.zip"]


def test_download_with_wrong_md5_is_refused(http_server, monkeypatch, cache_root):
    body = _mini_beir_zip()
    corrupted = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
    md5 = hashlib.md5(body).hexdigest()
    http_server.files["/scifact.zip"] = (corrupted, None)
    url = http_server.url + "/scifact.zip"
    _point_scifact_at(monkeypatch, [url], md5, len(body))
    with pytest.raises(InputError) as e:
        resolve_corpus("beir-v1.0.0-scifact")
    assert str(e.value) == (
        f"PYSERINI_DR_DATA is not set, and the official download failed (checksum mismatch for {url}: "
        f"md5 {hashlib.md5(corrupted).hexdigest()}, expected {md5}: refused); point PYSERINI_DR_DATA at a local "
        f"mirror laid out as <dir>/scifact/corpus.jsonl")
    assert files_under(cache_root) == []  # no archive, no .part, no half-built folder


@pytest.mark.parametrize("announce_full_length", [False, True], ids=["short-file", "connection-dropped"])
def test_truncated_download_is_refused(http_server, monkeypatch, cache_root, announce_full_length):
    body = _mini_beir_zip()
    short = body[: len(body) // 2]
    http_server.files["/scifact.zip"] = (short, len(body) if announce_full_length else None)
    url = http_server.url + "/scifact.zip"
    _point_scifact_at(monkeypatch, [url], hashlib.md5(body).hexdigest(), len(body))
    with pytest.raises(InputError) as e:
        resolve_corpus("beir-v1.0.0-scifact")
    assert str(e.value) == (
        f"PYSERINI_DR_DATA is not set, and the official download failed (download of {url} is {len(short):,} "
        f"bytes, expected {len(body):,}: refused (truncated?)); point PYSERINI_DR_DATA at a local mirror laid out "
        f"as <dir>/scifact/corpus.jsonl")
    assert files_under(cache_root) == []


def test_archive_without_the_file_is_refused(http_server, monkeypatch, cache_root):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("other/corpus.jsonl", "{}\n")
    body = buffer.getvalue()
    http_server.files["/scifact.zip"] = (body, None)
    _point_scifact_at(monkeypatch, [http_server.url + "/scifact.zip"], hashlib.md5(body).hexdigest(), len(body))
    with pytest.raises(InputError) as e:
        resolve_corpus("beir-v1.0.0-scifact")
    assert str(e.value) == "scifact.zip did not contain corpus.jsonl"
    assert not (cache_root / "data" / "scifact" / "corpus.jsonl").exists()


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_mirror_and_no_internet(monkeypatch, cache_root):
    url = f"http://127.0.0.1:{_unused_port()}/scifact.zip"
    _point_scifact_at(monkeypatch, [url], "0" * 32, 2_816_079)
    assert "PYSERINI_DR_DATA" not in os.environ and files_under(cache_root) == []
    with pytest.raises(InputError) as e:
        resolve_corpus("beir-v1.0.0-scifact")
    message = str(e.value)
    assert message.startswith(f"PYSERINI_DR_DATA is not set, and the official download failed (could not download "
                              f"{url}: ")
    assert message.endswith("); point PYSERINI_DR_DATA at a local mirror laid out as <dir>/scifact/corpus.jsonl")
    assert "\n" not in message
    assert files_under(cache_root) == []


def test_mirror_without_the_file_names_the_mirror(monkeypatch, tmp_path, cache_root):
    url = f"http://127.0.0.1:{_unused_port()}/scifact.zip"
    _point_scifact_at(monkeypatch, [url], "0" * 32, None)
    (tmp_path / "mirror" / "scifact").mkdir(parents=True)
    monkeypatch.setenv("PYSERINI_DR_DATA", str(tmp_path / "mirror"))
    with pytest.raises(InputError) as e:
        resolve_topics("beir-v1.0.0-scifact-test")
    assert str(e.value).startswith(f"PYSERINI_DR_DATA={tmp_path / 'mirror'} has no scifact/queries.jsonl, and the "
                                   f"official download failed (could not download {url}: ")


def test_a_run_ranking_a_document_twice_or_scoring_nan_is_refused(tmp_path):
    from pyserini_dr.data.runs import read_run

    twice = write(tmp_path / "twice.txt", "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\nq1 Q0 d1 3 0.5 t\n")
    with pytest.raises(InputError) as e:
        read_run(twice)
    assert str(e.value) == f"{twice}:3: document d1 is ranked twice for query q1 (trec_eval refuses such a run)"
    nan = write(tmp_path / "nan.txt", "q1 Q0 d1 1 nan t\n")
    with pytest.raises(InputError) as e:
        read_run(nan)
    assert str(e.value) == f"{nan}:1: score is not a number (nan)"
    assert read_run(write(tmp_path / "ok.txt", "q1 Q0 d1 1 2.0 t\nq2 Q0 d1 1 1.0 t\n")) == {
        "q1": [("d1", 2.0)], "q2": [("d1", 1.0)]}


def test_pyserinis_json_topics_are_read(tmp_path):
    """Pyserini's topics as JSON (qid -> {"title": ...}, the shape of ``get_topics``), or qid -> text."""
    from pyserini_dr.data.topics import read_topics

    path = write(tmp_path / "topics.json", '{"101": {"title": "cells divide", "description": "how"}, "7": "a query"}')
    assert read_topics(path) == {"101": "cells divide", "7": "a query"}
    bad = write(tmp_path / "bad.json", '{"101": {"narrative": "no query field"}}')
    with pytest.raises(InputError) as e:
        read_topics(bad)
    assert str(e.value) == f"{bad}: query 101 has no text"
    listed = write(tmp_path / "list.json", '[1, 2]')
    with pytest.raises(InputError) as e:
        read_topics(listed)
    assert str(e.value) == f"{listed}: Pyserini's JSON topics are one object, query id -> query"


def test_json_lines_in_a_json_file_are_still_json_lines(tmp_path):
    from pyserini_dr.data.topics import read_topics

    assert read_topics(write(tmp_path / "q.json", '{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"}\n')) == {
        "1": "a", "2": "b"}
    assert read_topics(write(tmp_path / "one.json", '{"_id": "1", "text": "a"}\n')) == {"1": "a"}
