"""Leaderboards: the MS MARCO passage submission writer and validator, TREC DL evaluation, the BEIR summary."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import need
from pyserini_dr.data import read_qrels, resolve_qrels, resolve_topics
from pyserini_dr.eval.beir import markdown_table, summarize
from pyserini_dr.eval.msmarco_submission import validate_submission, write_submission
from pyserini_dr.eval.trec_dl import trec_dl_scores

VALIDATE = "pyserini_dr.eval.msmarco_submission"


# ---- MS MARCO passage submission --------------------------------------------------------------------------------

TINY_TOPICS = "101\tfirst query\n102\tsecond query\n103\tthird query\n"


def good_lines() -> list[str]:
    """Three queries, three passages each: a valid submission for TINY_TOPICS."""
    return [f"{q}\t{p}\t{r}" for q, pids in (("101", "7 8 9"), ("102", "9 1 5"), ("103", "4 3 2"))
            for r, p in enumerate(pids.split(), 1)]


@pytest.fixture
def tiny_topics(tmp_path) -> Path:
    path = tmp_path / "topics.tsv"
    path.write_text(TINY_TOPICS)
    return path


def validate(cli, tmp_path, topics, text: str):
    sub = tmp_path / "submission.tsv"
    sub.write_text(text)
    return sub, cli(VALIDATE, "validate", sub, "--topics", topics)


def replace(lines: list[str], index: int, line: str) -> str:
    lines = list(lines)
    lines[index] = line
    return "\n".join(lines) + "\n"


def test_correct_small_file_accepted(cli, tmp_path, tiny_topics):
    sub, r = validate(cli, tmp_path, tiny_topics, "\n".join(good_lines()) + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"ok: {sub}: 3 queries, 9 lines, 3 to 3 passages per query\n"


# each malformed case: (file text, line number reported, message fragment)
MALFORMED = {
    "wrong-column-count": (replace(good_lines(), 4, "102\t1"), 5,
                           "expected 3 tab-separated fields (qid, pid, rank), found 2"),
    "space-separated": (replace(good_lines(), 0, "101 7 1"), 1, "expected 3 tab-separated fields"),
    "trec-format": ("101 Q0 7 1 2.5 run\n", 1, "expected 3 tab-separated fields (qid, pid, rank), found 1"),
    "non-integer-pid": (replace(good_lines(), 2, "101\tD9\t3"), 3, "pid 'D9' is not a non-negative integer"),
    "non-integer-rank": (replace(good_lines(), 1, "101\t8\t2.0"), 2, "rank '2.0' is not a non-negative integer"),
    "rank-not-starting-at-1": (replace(good_lines(), 3, "102\t9\t0"), 4,
                               "query 102 has rank 0; the first rank of a query must be 1"),
    "gap-in-ranks": (replace(good_lines(), 5, "102\t5\t4"), 6,
                     "query 102 has rank 4; ranks of a query must be consecutive, expected 3 after 2"),
    "duplicate-pid": (replace(good_lines(), 8, "103\t4\t3"), 9, "query 103 ranks passage 4 twice"),
    "unknown-qid": (replace(good_lines(), 6, "999\t4\t1"), 7, "query 999 is not one of the 3"),
    "blank-line": ("\n".join(good_lines()[:3]) + "\n\n" + "\n".join(good_lines()[3:]) + "\n", 4, "blank line"),
    "whitespace-line": ("\n".join(good_lines()[:3]) + "\n \t\n" + "\n".join(good_lines()[3:]) + "\n", 4,
                        "blank line"),
    "trailing-blank-line": ("\n".join(good_lines()) + "\n\n", 10, "blank line"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_submission_rejected(cli, tmp_path, tiny_topics, case):
    text, line_no, message = MALFORMED[case]
    sub, r = validate(cli, tmp_path, tiny_topics, text)
    err = r.error_line()
    assert err.startswith(f"error: {sub}:{line_no}: "), err
    assert message in err, err


def test_too_many_passages_per_query_rejected(cli, tmp_path, tiny_topics):
    lines = [f"101\t{pid}\t{pid}" for pid in range(1, 1002)]   # ranks 1..1001
    sub, r = validate(cli, tmp_path, tiny_topics, "\n".join(lines) + "\n")
    assert r.error_line() == (f"error: {sub}:1001: query 101 ranks more than 1000 passages "
                              f"(the leaderboard's limit)")
    # 1000 is allowed
    assert validate_submission(_write(tmp_path / "k.tsv", lines[:1000] + good_lines()[3:]),
                               {"101", "102", "103"}).max_hits == 1000


def test_missing_qids_rejected(cli, tmp_path, tiny_topics):
    sub, r = validate(cli, tmp_path, tiny_topics, "\n".join(good_lines()[:3]) + "\n")
    assert r.error_line() == f"error: {sub}: 2 of the 3 {tiny_topics} queries have no ranking (first: 102)"


def test_empty_file_rejected(cli, tmp_path, tiny_topics):
    sub, r = validate(cli, tmp_path, tiny_topics, "")
    assert r.error_line() == f"error: {sub}: empty file, no rankings"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_writer_round_trip(cli, tmp_path, tiny_topics):
    # a TREC run with 4 hits for 101 (a tie broken by pid), 2 for the others; --hits 3 keeps the top 3
    run = tmp_path / "run.trec"
    run.write_text("101 Q0 5 1 3.0 t\n101 Q0 9 2 2.0 t\n101 Q0 8 3 2.0 t\n101 Q0 1 4 1.0 t\n"
                   "102 Q0 4 1 1.0 t\n102 Q0 6 2 0.5 t\n103 Q0 2 1 9.0 t\n103 Q0 3 2 8.0 t\n")
    out = tmp_path / "sub.tsv"
    r = cli(VALIDATE, "write", run, "--output", out, "--hits", "3")
    assert r.returncode == 0, r.stderr
    assert out.read_text() == ("101\t5\t1\n101\t8\t2\n101\t9\t3\n102\t4\t1\n102\t6\t2\n"
                               "103\t2\t1\n103\t3\t2\n")
    assert cli(VALIDATE, "validate", out, "--topics", tiny_topics).returncode == 0
    assert cli(VALIDATE, "write", run, "--output", out, "--hits", "1001").error_line() == \
        "error: --hits must be 1..1000 (the leaderboard scores at most 1000 per query)"


def test_writer_refuses_non_integer_ids(tmp_path):
    from pyserini_dr.errors import InputError

    with pytest.raises(InputError, match=r"MS MARCO ids are integers; the run has 'doc-1' \(query 1\)"):
        write_submission({"1": [("doc-1", 1.0)]}, tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()


def test_dev_small_submission_accepted(cli, mirror, tmp_path):
    need(mirror, "msmarco-passage-eval/queries.dev.jsonl")
    topics = resolve_topics("msmarco-passage-dev-subset")
    assert len(topics) == 6980
    run = {qid: [(str(1000 * i + j), 1.0 / (j + 1)) for j in range(10)] for i, qid in enumerate(topics)}
    sub = tmp_path / "dev.tsv"
    assert write_submission(run, sub) == 69_800
    r = cli(VALIDATE, "validate", sub)    # default topics: msmarco-passage-dev-subset
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"ok: {sub}: 6,980 queries, 69,800 lines, 10 to 10 passages per query\n"
    # one query dropped: rejected, naming the count
    lines = sub.read_text().splitlines()
    first_qid = lines[0].split("\t")[0]
    _write(sub, [line for line in lines if not line.startswith(first_qid + "\t")])
    assert cli(VALIDATE, "validate", sub).error_line() == (
        f"error: {sub}: 1 of the 6,980 msmarco-passage-dev-subset queries have no ranking (first: {first_qid})")


# ---- TREC DL ----------------------------------------------------------------------------------------------------

# graded qrels 0-3; t3 is judged but not run (-c counts it as 0); t9 is run but not judged (ignored)
DL_QRELS = {"t1": {"a": 3, "b": 2, "c": 1, "d": 0}, "t2": {"y": 2, "w": 3, "x": 1}, "t3": {"z": 2}}
DL_RUN = {"t1": [("c", 4.0), ("a", 3.0), ("e", 2.0), ("b", 1.0)], "t2": [("x", 2.0), ("y", 1.0)],
          "t9": [("a", 1.0)]}


def dcg(gains):
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def test_trec_dl_by_hand():
    # nDCG@10: gain = grade, discount log2(rank + 1); ideal order from all judged grades of the query
    ndcg_t1 = dcg([1, 3, 0, 2]) / dcg([3, 2, 1])
    ndcg_t2 = dcg([1, 2]) / dcg([3, 2, 1])
    # -l 2: relevant = grade >= 2. t1: a (rank 2), b (rank 4); t2: y (rank 2) of {y, w}
    ap_t1, ap_t2 = (1 / 2 + 2 / 4) / 2, (1 / 2) / 2
    recall_t1, recall_t2 = 1.0, 0.5
    scores = trec_dl_scores(DL_QRELS, DL_RUN)
    assert scores["ndcg_cut.10"] == pytest.approx((ndcg_t1 + ndcg_t2) / 3, abs=1e-12)
    assert scores["map"] == pytest.approx((ap_t1 + ap_t2) / 3, abs=1e-12)
    assert scores["recall.1000"] == pytest.approx((recall_t1 + recall_t2) / 3, abs=1e-12)
    # at level 1 grade-1 passages count: t1 recall 3/3, t2 2/3 (x and y of x, y, w)
    assert trec_dl_scores(DL_QRELS, DL_RUN, relevance_level=1)["recall.1000"] == \
        pytest.approx((1 + 2 / 3) / 3, abs=1e-12)


def test_trec_dl_cli(cli, tmp_path):
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in DL_QRELS.items() for d, g in docs.items()))
    run.write_text("".join(f"{q} Q0 {d} {i} {s} t\n" for q, hits in DL_RUN.items()
                           for i, (d, s) in enumerate(hits, 1)))
    r = cli("pyserini_dr.eval.trec_dl", "--topics", qrels, run)
    assert r.returncode == 0, r.stderr
    s = trec_dl_scores(DL_QRELS, DL_RUN)
    assert r.stdout == (f"{qrels}: 3 judged queries, 2 of them in the run (trec_eval -c; -l 2 for MAP and R@1k)\n"
                        f"nDCG@10 {s['ndcg_cut.10']:.4f}\nMAP     {s['map']:.4f}\nR@1k    {s['recall.1000']:.4f}\n")


@pytest.mark.parametrize("name, judged", [("dl19-passage", 43), ("dl20", 54)])
def test_trec_dl_real_qrels_ideal_run(mirror, name, judged):
    need(mirror, "msmarco-passage-eval/qrels/dl19.tsv", "msmarco-passage-eval/qrels/dl20.tsv")
    qrels = read_qrels(resolve_qrels(name))
    assert len(qrels) == judged
    assert {g for docs in qrels.values() for g in docs.values()} == {0, 1, 2, 3}
    # the ideal run (passages by grade) scores 1 everywhere; it keeps every judged passage, grade 0 included
    ideal = {q: [(d, float(g)) for d, g in docs.items()] for q, docs in qrels.items()}
    assert trec_dl_scores(qrels, ideal) == pytest.approx({"ndcg_cut.10": 1.0, "map": 1.0, "recall.1000": 1.0})
    # dropping the grade-1 passages changes nothing at level 2 but nDCG@10 where a grade-1 made the top 10
    no_ones = {q: [(d, s) for d, s in hits if s != 1.0] for q, hits in ideal.items()}
    scores = trec_dl_scores(qrels, no_ones)
    assert scores["map"] == pytest.approx(1.0) and scores["recall.1000"] == pytest.approx(1.0)


# ---- BEIR summary -----------------------------------------------------------------------------------------------

def test_beir_summary(cli, tmp_path):
    # two datasets, two systems; system "b" has no run for dataset "two"
    (tmp_path / "one.qrels").write_text("q1 0 d1 1\nq2 0 d2 1\n")
    (tmp_path / "two.qrels").write_text("q1 0 d5 1\n")
    (tmp_path / "a.one.txt").write_text("q1 Q0 d1 1 2 t\nq2 Q0 d9 1 2 t\nq2 Q0 d2 2 1 t\n")
    (tmp_path / "a.two.txt").write_text("q1 Q0 d5 1 1 t\n")
    (tmp_path / "b.one.txt").write_text("q1 Q0 d9 1 2 t\nq1 Q0 d1 2 1 t\n")
    one_a = (1 + 1 / math.log2(3)) / 2          # q1 at rank 1, q2 at rank 2
    one_b = (1 / math.log2(3)) / 2              # q1 at rank 2, q2 not run (-c: 0)
    systems = {"a": str(tmp_path / "a.{dataset}.txt"), "b": str(tmp_path / "b.{dataset}.txt")}
    datasets = {"one": str(tmp_path / "one.qrels"), "two": str(tmp_path / "two.qrels")}
    scores = summarize(systems, datasets, ["ndcg_cut.10", "recall.100"])
    assert set(scores) == {("a", "one"), ("a", "two"), ("b", "one")}
    assert scores[("a", "one")]["ndcg_cut.10"] == pytest.approx(one_a)
    assert scores[("b", "one")] == pytest.approx({"ndcg_cut.10": one_b, "recall.100": 0.5})
    table = markdown_table(scores, ["a", "b"], ["one", "two"], ["ndcg_cut.10", "recall.100"])
    assert table == (
        "| dataset | a nDCG@10 | a R@100 | b nDCG@10 | b R@100 |\n"
        "| --- | --- | --- | --- | --- |\n"
        f"| one | {one_a:.4f} | 1.0000 | {one_b:.4f} | 0.5000 |\n"
        "| two | 1.0000 | 1.0000 | - | - |\n"
        f"| **average** | {(one_a + 1) / 2:.4f} | 1.0000 | - | - |\n")
    out = tmp_path / "beir.md"
    r = cli("pyserini_dr.eval.beir", "--runs", f"a={systems['a']}", f"b={systems['b']}", "--datasets",
            f"one={datasets['one']}", f"two={datasets['two']}", "--output", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout == table and out.read_text() == table
    assert "1 run(s) missing, e.g. " in r.stderr
    assert cli("pyserini_dr.eval.beir", "--runs", "a=run.txt", "--datasets", "scifact").error_line() == \
        "error: --runs 'a=run.txt': the pattern needs {dataset} where the dataset name goes"


def test_beir_dataset_names():
    from pyserini_dr.eval.beir import dataset_qrels

    assert dataset_qrels("scifact") == ("scifact", "beir-v1.0.0-scifact-test")
    assert dataset_qrels("cranfield") == ("cranfield", "cranfield")
    assert dataset_qrels("mine=/x/q.txt") == ("mine", "/x/q.txt")
