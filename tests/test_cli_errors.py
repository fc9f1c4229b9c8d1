"""Command-line errors: one ``error:`` line on stderr, exit code 2, no traceback; and a cheap package import."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

INDEX = "pyserini_dr.index.lucene"
SEARCH = "pyserini_dr.search.lucene"
TREC_EVAL = "pyserini_dr.eval.trec_eval"


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# ---- index ------------------------------------------------------------------------------------------------------

def test_index_malformed_json(cli, tmp_path):
    corpus = write(tmp_path / "bad.jsonl", '{"_id": "a", "text": "fine"}\n{"_id": "b" "text": "x"}\n')
    done = cli(INDEX, "--corpus", corpus, "--index", tmp_path / "idx")
    assert done.error_line() == f"error: {corpus}:2: malformed JSON (Expecting ',' delimiter at column 13)"
    assert done.stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]  # no index, no build folder


def test_index_document_without_id(cli, tmp_path):
    corpus = write(tmp_path / "noid.jsonl", '{"title": "t", "text": "no id"}\n')
    assert cli(INDEX, "--corpus", corpus, "--index", tmp_path / "idx").error_line() == \
        f"error: {corpus}:1: document has no _id (or id)"


def test_index_duplicate_ids(cli, tmp_path):
    corpus = write(tmp_path / "dup.jsonl", "".join(json.dumps(r) + "\n" for r in [
        {"_id": "7", "text": "x"}, {"_id": "8", "text": "y"}, {"_id": 7, "text": "z"}]))
    assert cli(INDEX, "--corpus", corpus, "--index", tmp_path / "idx").error_line() == \
        f"error: {corpus}:3: duplicate document id '7'"


def test_index_unknown_dataset(cli, tmp_path):
    assert cli(INDEX, "--dataset", "nope", "--index", tmp_path / "idx").error_line() == \
        "error: unknown corpus 'nope': not a file, and not one of beir-v1.0.0-scifact, cranfield"


def test_index_missing_corpus_file(cli, tmp_path):
    # a path that is not a file is taken as a dataset name
    assert cli(INDEX, "--corpus", tmp_path / "missing.jsonl", "--index", tmp_path / "idx").error_line() == \
        f"error: unknown corpus '{tmp_path / 'missing.jsonl'}': not a file, and not one of beir-v1.0.0-scifact, " \
        f"cranfield"


def test_index_non_empty_directory(cli, tmp_path):
    corpus = write(tmp_path / "c.jsonl", '{"_id": "a", "text": "x"}\n')
    (tmp_path / "idx").mkdir()
    write(tmp_path / "idx" / "something", "")
    assert cli(INDEX, "--corpus", corpus, "--index", tmp_path / "idx").error_line() == \
        f"error: index directory {tmp_path / 'idx'} exists and is not empty; remove it or pick another"


def test_index_empty_text_documents_are_kept_and_counted(cli, tmp_path):
    rows = [{"_id": "a", "title": "Alpha", "text": "apples and bananas"}, {"_id": "b", "title": "", "text": ""},
            {"_id": "c", "title": "Gamma", "text": "cherries"}, {"id": "d", "contents": "  "}]
    corpus = write(tmp_path / "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    done = cli(INDEX, "--corpus", corpus, "--index", "idx")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    summary = [line for line in done.stderr.splitlines() if line.startswith("indexed ")]
    assert len(summary) == 1
    assert re.fullmatch(r"indexed 4 documents \(2 with empty text, kept\) into idx in \d+\.\ds; 2 with empty "
                        r"contents not indexed \(Anserini skips them, as in Pyserini's indexes\)", summary[0])
    assert (tmp_path / "idx").is_dir() and os.listdir(tmp_path / "idx")
    assert sorted(os.listdir(tmp_path)) == ["c.jsonl", "idx"]


# ---- search -----------------------------------------------------------------------------------------------------

def test_search_missing_index(cli, tmp_path):
    topics = write(tmp_path / "topics.tsv", "q1\thello\n")
    done = cli(SEARCH, "--index", tmp_path / "no-index", "--topics", topics, "--output", tmp_path / "run.txt")
    assert done.error_line() == f"error: no such Lucene index directory: {tmp_path / 'no-index'}"
    assert not (tmp_path / "run.txt").exists()


@pytest.mark.parametrize("model, message", [
    ("{tmp}/no-model", "no such model directory: {tmp}/no-model"),
    ("./no-model", "no such model directory: ./no-model"),
    ("{tmp}/c.jsonl", "{tmp}/c.jsonl is a file: give the model's directory"),
])
def test_encode_and_train_refuse_a_missing_local_model(cli, tmp_path, model, message):
    """A path Hugging Face would report as a malformed hub name ("Repo id must use alphanumeric chars ...")."""
    corpus = write(tmp_path / "c.jsonl", '{"_id": "a", "text": "x"}\n')
    model, message = model.format(tmp=tmp_path), "error: " + message.format(tmp=tmp_path)
    assert cli("pyserini_dr.encode", "--corpus", corpus, "--encoder", model, "--output",
               tmp_path / "out").error_line() == message
    groups = write(tmp_path / "g.jsonl", '{"query_id": "q", "query_text": "y", "positive_document_ids": ["a"]}\n')
    assert cli("pyserini_dr.train", "--recipe", "warmup", "--model", model, "--train-data", groups, "--corpus",
               corpus, "--output", tmp_path / "trained").error_line() == message
    assert sorted(os.listdir(tmp_path)) == ["c.jsonl", "g.jsonl"]


def test_a_hub_name_is_not_taken_for_a_missing_path():
    from pyserini_dr.encode.families import check_model_location

    for name in ("sentence-transformers/all-MiniLM-L6-v2", "bert-base-uncased"):
        assert check_model_location(name) is None


def test_search_unknown_topics(cli, tmp_path):
    (tmp_path / "idx").mkdir()
    done = cli(SEARCH, "--index", tmp_path / "idx", "--topics", "nope", "--output", tmp_path / "run.txt")
    assert done.error_line() == (
        "error: unknown topics 'nope': not a file, and not one of beir-v1.0.0-scifact-test, "
        "beir-v1.0.0-scifact-train, cranfield, dl19-passage, dl20, dl20-passage, msmarco-passage-dev-subset")


def test_search_malformed_topics(cli, tmp_path):
    topics = write(tmp_path / "topics.tsv", "q1\thello\nq2 has no tab\n")
    done = cli(SEARCH, "--index", tmp_path, "--topics", topics, "--output", tmp_path / "run.txt")
    assert done.error_line() == f"error: {topics}:2: expected 'qid<TAB>query', found 'q2 has no tab'"


def test_search_bad_fields(cli, tmp_path):
    topics = write(tmp_path / "topics.tsv", "q1\thello\n")
    (tmp_path / "idx").mkdir()
    done = cli(SEARCH, "--index", tmp_path / "idx", "--topics", topics, "--output", tmp_path / "run.txt",
               "--fields", "title=heavy")
    assert done.error_line() == "error: --fields takes name=boost pairs, got 'title=heavy'"


# ---- trec_eval --------------------------------------------------------------------------------------------------

@pytest.fixture
def qrels_file(tmp_path):
    return write(tmp_path / "qrels.txt", "q1 0 d1 1\nq2 0 d2 1\n")


def test_trec_eval_run_with_wrong_column_count(cli, tmp_path, qrels_file):
    run = write(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 tag\nq1 Q0 d2 2 1.0\n")
    assert cli(TREC_EVAL, "-m", "map", qrels_file, run).error_line() == \
        f"error: {run}:2: expected 6 columns like the first line, found 5"
    run = write(tmp_path / "run4.txt", "q1 Q0 d1 1\n")
    assert cli(TREC_EVAL, "-m", "map", qrels_file, run).error_line() == \
        f"error: {run}:1: a run line has 6 (TREC) or 3 (MS MARCO) columns, found 4"


def test_trec_eval_no_query_in_common(cli, tmp_path, qrels_file):
    run = write(tmp_path / "run.txt", "q7 Q0 d1 1 2.0 tag\n")
    assert cli(TREC_EVAL, "-c", "-m", "ndcg_cut.10", qrels_file, run).error_line() == \
        "error: the qrels and the run have no query in common"


def test_trec_eval_malformed_qrels(cli, tmp_path):
    qrels = write(tmp_path / "qrels.txt", "q1 0 d1 1\nq1 0 d2\tgood\n")
    run = write(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 tag\n")
    assert cli(TREC_EVAL, "-m", "map", qrels, run).error_line() == f"error: {qrels}:2: relevance 'good' is not a whole number"


def test_trec_eval_missing_run_and_bad_measure(cli, tmp_path, qrels_file):
    assert cli(TREC_EVAL, "-m", "map", qrels_file, tmp_path / "none.txt").error_line() == \
        f"error: no such file: {tmp_path / 'none.txt'}"
    run = write(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 tag\n")
    assert cli(TREC_EVAL, "-m", "nosuch", qrels_file, run).error_line() == "error: trec_eval: illegal measure 'nosuch'"
    done = cli(TREC_EVAL, "-m", "bpref", qrels_file, run)   # not ours: trec_eval's binary computes it
    assert done.returncode == 0 and done.stdout.split()[:2] == ["bpref", "all"]


def test_trec_eval_output(cli, tmp_path, qrels_file):
    # q1: d1 relevant at rank 1; q2: d2 relevant at rank 2 (d9 scores higher); -c averages over both
    run = write(tmp_path / "run.txt", "q1 Q0 d1 1 2.0 t\nq2 Q0 d9 1 3.0 t\nq2 Q0 d2 2 1.0 t\n")
    done = cli(TREC_EVAL, "-c", "-q", "-m", "recip_rank", "-m", "P.1,2", qrels_file, run)
    assert (done.returncode, done.stderr) == (0, "")
    assert [line.split() for line in done.stdout.splitlines()] == [
        ["recip_rank", "q1", "1.0000"], ["recip_rank", "q2", "0.5000"], ["recip_rank", "all", "0.7500"],
        ["P_1", "q1", "1.0000"], ["P_1", "q2", "0.0000"], ["P_1", "all", "0.5000"],
        ["P_2", "q1", "0.5000"], ["P_2", "q2", "0.5000"], ["P_2", "all", "0.5000"]]


# ---- importing the package is cheap ----------------------------------------------------------------------------

def test_trec_eval_run_not_utf8(cli, tmp_path, qrels_file):
    run = tmp_path / "latin1.txt"
    run.write_bytes("1 Q0 d1 1 2.0 t\n1 Q0 caf\xe9 2 1.0 t\n".encode("latin-1"))
    assert cli(TREC_EVAL, "-m", "map", qrels_file, run).error_line() == f"error: {run}:2: not UTF-8 text"


def test_fusion_output_is_a_directory(cli, tmp_path):
    run = write(tmp_path / "a.txt", "1 Q0 d1 1 2.0 t\n")
    (tmp_path / "out").mkdir()
    done = cli("pyserini_dr.fusion", "--runs", run, run, "--output", tmp_path / "out")
    assert done.error_line() == f"error: argument --output: {tmp_path / 'out'} is a directory, not a file to write"
    assert os.listdir(tmp_path / "out") == []


def test_imports_do_not_load_pyserini_java_or_torch():
    code = (
        "import sys\n"
        "import pyserini_dr\n"
        "import pyserini_dr.data, pyserini_dr.eval\n"
        "first = sorted({m.split('.')[0] for m in sys.modules} & {'pyserini', 'jnius', 'jnius_config', 'torch'})\n"
        "import pyserini_dr.cli, pyserini_dr.eval.trec_eval, pyserini_dr.eval.msmarco, pyserini_dr.eval.reproduce\n"
        "import pyserini_dr._pyserini, pyserini_dr.index.lucene, pyserini_dr.search.lucene\n"
        "then = sorted({m.split('.')[0] for m in sys.modules} & {'pyserini', 'jnius', 'jnius_config', 'torch'})\n"
        "print(first, then)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[] []\n"


# ---- impossible counts: one validation (cli.positive / cli.non_negative) for every command -----------------------

@pytest.mark.parametrize("module, argv, line", [
    ("pyserini_dr.search.faiss.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--hits", "0"],
     "error: argument --hits: must be 1 or more, got 0"),
    ("pyserini_dr.search.faiss.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--batch-size", "0"],
     "error: argument --batch-size: must be 1 or more, got 0"),
    ("pyserini_dr.search.faiss.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--query-max-length",
                                           "0"], "error: argument --query-max-length: must be 1 or more, got 0"),
    ("pyserini_dr.search.lucene.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--hits", "-5"],
     "error: argument --hits: must be 1 or more, got -5"),
    ("pyserini_dr.search.lucene.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--threads", "x"],
     "error: argument --threads: expected a whole number, got 'x'"),
    ("pyserini_dr.search.hybrid.__main__", ["dense", "--index", "d", "sparse", "--index", "s", "fusion", "--rrf-k",
                                            "-1", "run", "--topics", "t", "--output", "o"],
     "error: argument --rrf-k: must be 0 or more, got -1"),
    ("pyserini_dr.fusion", ["--runs", "a", "b", "--output", "o", "--depth", "0"],
     "error: argument --depth: must be 1 or more, got 0"),
    ("pyserini_dr.search.lucene.__main__", ["--index", "i", "--topics", "t", "--output", "o", "--no-such-flag"],
     "error: unrecognized arguments: --no-such-flag"),
    ("pyserini_dr.search.lucene.__main__", ["--topics", "t", "--output", "o"],
     "error: the following arguments are required: --index"),
])
def test_impossible_counts_and_usage_mistakes_are_one_error_line(module, argv, line, capsys):
    import importlib

    from pyserini_dr.cli import run_main

    with pytest.raises(SystemExit) as exited:
        run_main(importlib.import_module(module).main, argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [line]
