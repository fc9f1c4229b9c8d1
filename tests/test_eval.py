"""Evaluation: trec_eval measures (equal to Anserini's trec_eval binary) and MS MARCO MRR@10."""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import need
from pyserini_dr.data import read_qrels, read_run, write_run, write_trec_qrels
from pyserini_dr.errors import InputError
from pyserini_dr.eval import evaluate, parse_measures
from pyserini_dr.eval.metrics import trec_eval_name
from pyserini_dr.eval.msmarco import mrr_at_10

MEASURES = ["ndcg_cut.10", "map", "recall.100,1000", "recip_rank"]
EXPANDED = ["ndcg_cut.10", "map", "recall.100", "recall.1000", "recip_rank"]


def anserini(*args) -> dict[tuple[str, str], str]:
    """Anserini's trec_eval binary: {(label, qid): printed value}."""
    from pyserini_dr._pyserini import anserini_trec_eval

    out = {}
    for line in anserini_trec_eval([str(a) for a in args]).splitlines():
        label, qid, value = line.split()
        out[(label, qid)] = value
    return out


def binary_args(measures) -> list[str]:
    return [a for m in measures for a in ("-m", m)]


def ours_as_printed(qrels, run, measures, **kwargs) -> dict[tuple[str, str], str]:
    means = evaluate(qrels, run, measures, **kwargs)
    return {(trec_eval_name(m), "all"): f"{v:.4f}" for m, v in means.items()}


# ---- measure names ----------------------------------------------------------------------------------------------

def test_parse_measures():
    assert parse_measures(["ndcg_cut.10,100", "map", "recall.1000", "P.5", "recip_rank", "ndcg"]) == [
        "ndcg_cut.10", "ndcg_cut.100", "map", "recall.1000", "P.5", "recip_rank", "ndcg"]
    assert trec_eval_name("ndcg_cut.10") == "ndcg_cut_10"
    with pytest.raises(InputError) as e:
        parse_measures(["bpref"])
    assert str(e.value) == "unsupported measure 'bpref' (ndcg_cut.K, recall.K, P.K, map, recip_rank, ndcg)"
    with pytest.raises(InputError) as e:
        parse_measures(["recall"])
    assert str(e.value) == "measure 'recall' needs a cutoff, e.g. recall.10"


# ---- evaluate on a hand-made case -------------------------------------------------------------------------------

# q1: three documents tie at 1.0; trec_eval orders ties by docid DESCENDING: d3 (rel 2), d2, d1 (rel 1), then d4.
# q2: judged, but nothing relevant. q3: judged, not in the run. q9: in the run, not judged (ignored).
TINY_QRELS = {"q1": {"d1": 1, "d3": 2}, "q2": {"d1": 0, "d2": 0}, "q3": {"x": 1}}
TINY_RUN = {"q1": [("d1", 1.0), ("d2", 1.0), ("d3", 1.0), ("d4", 0.5)], "q2": [("d1", 3.0), ("d2", 2.0)],
            "q9": [("d1", 1.0)]}


def test_evaluate_by_hand():
    ndcg_q1 = (2 + 1 / math.log2(4)) / (2 + 1 / math.log2(3))  # gains 2 at rank 1, 1 at rank 3
    per_query = evaluate(TINY_QRELS, TINY_RUN, ["ndcg_cut.10", "ndcg_cut.1", "map", "recall.1,10", "P.2",
                                                "recip_rank"], per_query=True)
    expected = {"ndcg_cut.10": ndcg_q1, "ndcg_cut.1": 1.0, "map": (1 / 1 + 2 / 3) / 2, "recall.1": 0.5,
                "recall.10": 1.0, "P.2": 0.5, "recip_rank": 1.0}
    assert set(per_query) == set(expected)
    for measure, value in expected.items():
        assert per_query[measure] == pytest.approx({"q1": value, "q2": 0.0, "q3": 0.0}, abs=1e-12), measure

    # -c: the mean is over the 3 judged queries; without it, over the 2 judged queries that were run
    assert evaluate(TINY_QRELS, TINY_RUN, ["map"])["map"] == pytest.approx(5 / 6 / 3, abs=1e-12)
    assert evaluate(TINY_QRELS, TINY_RUN, ["map"], complete=False)["map"] == pytest.approx(5 / 6 / 2, abs=1e-12)
    # -l 2: only d3 is relevant for binary measures; nDCG still uses the grades
    level2 = evaluate(TINY_QRELS, TINY_RUN, ["map", "recip_rank", "ndcg_cut.10"], relevance_level=2,
                      per_query=True)
    assert level2["map"]["q1"] == level2["recip_rank"]["q1"] == 1.0
    assert level2["ndcg_cut.10"]["q1"] == pytest.approx(ndcg_q1, abs=1e-12)


def test_evaluate_queries_with_no_hits():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    assert evaluate(qrels, {"q1": [], "q2": []}, ["ndcg_cut.10", "map", "recip_rank"]) == {
        "ndcg_cut.10": 0.0, "map": 0.0, "recip_rank": 0.0}
    scores = evaluate(qrels, {"q1": [("a", 1.0)], "q2": []}, ["ndcg", "recall.10"], per_query=True)
    assert scores["ndcg"] == pytest.approx({"q1": 1 / (1 + 1 / math.log2(3)), "q2": 0.0}, abs=1e-12)
    assert scores["recall.10"] == {"q1": 0.5, "q2": 0.0}


def test_evaluate_no_common_query():
    with pytest.raises(InputError) as e:
        evaluate({"q1": {"a": 1}}, {"q2": [("a", 1.0)]}, ["map"])
    assert str(e.value) == "the qrels and the run have no query in common"


@pytest.mark.parametrize("complete", [True, False], ids=["-c", "no-c"])
def test_tiny_case_equals_anserini_trec_eval(tmp_path, complete):
    qrels_file, run_file = tmp_path / "qrels.trec", tmp_path / "run.trec"
    write_trec_qrels(TINY_QRELS, qrels_file)
    with open(run_file, "w") as f:  # written by hand, ranks deliberately not in score order
        for qid, hits in TINY_RUN.items():
            for rank, (docid, score) in enumerate(reversed(hits), 1):
                f.write(f"{qid} Q0 {docid} {rank} {score} tag\n")
    # one -m per family: the binary keeps only the last of two "-m ndcg_cut.K" (hence ndcg_cut.1,10)
    measures = ["ndcg_cut.1,10", "map", "recall.100,1000", "recip_rank", "P.2"]
    flags = (["-c"] if complete else []) + ["-q"] + binary_args(measures)
    expected = anserini(*flags, qrels_file, run_file)
    run = read_run(run_file)
    got = ours_as_printed(TINY_QRELS, run, measures, complete=complete)
    for measure, values in evaluate(TINY_QRELS, run, measures, complete=complete, per_query=True).items():
        got.update({(trec_eval_name(measure), qid): f"{v:.4f}" for qid, v in values.items()})
    assert {k: v for k, v in got.items() if k[1] == "all"} == {k: v for k, v in expected.items() if k[1] == "all"}
    # per query: trec_eval prints the judged queries that were run
    for key, value in expected.items():
        assert got[key] == value, key


# ---- SciFact and Cranfield BM25 runs against Anserini's trec_eval -----------------------------------------------

@pytest.mark.parametrize("case", ["scifact_flat", "cranfield_flat"])
def test_bm25_runs_equal_anserini_trec_eval(request, case):
    bm25 = request.getfixturevalue(case)
    expected = anserini("-c", *binary_args(MEASURES), bm25.qrels_file, bm25.run_file)
    assert set(expected) == {(trec_eval_name(m), "all") for m in EXPANDED}
    # evaluate the run as written to disk (6 decimals), the same bytes trec_eval reads
    assert ours_as_printed(bm25.qrels, read_run(bm25.run_file), MEASURES, complete=True) == expected


def test_scifact_published_values_through_trec_eval(scifact_flat):
    expected = anserini("-c", "-m", "ndcg_cut.10", "-m", "recall.100", scifact_flat.qrels_file, scifact_flat.run_file)
    assert expected == {("ndcg_cut_10", "all"): "0.6789", ("recall_100", "all"): "0.9253"}


def test_cranfield_per_query_ndcg_equals_anserini_trec_eval(cranfield_flat):
    # graded qrels (gains 0..4): nDCG uses the grades
    assert {rel for docs in cranfield_flat.qrels.values() for rel in docs.values()} == {0, 1, 2, 3, 4}
    expected = anserini("-c", "-q", "-m", "ndcg_cut.10", cranfield_flat.qrels_file, cranfield_flat.run_file)
    per_query = evaluate(cranfield_flat.qrels, read_run(cranfield_flat.run_file), ["ndcg_cut.10"],
                         per_query=True)["ndcg_cut.10"]
    got = {("ndcg_cut_10", qid): f"{v:.4f}" for qid, v in per_query.items()}
    got[("ndcg_cut_10", "all")] = f"{sum(per_query.values()) / len(per_query):.4f}"
    assert len(per_query) == 225
    assert got == expected


@pytest.mark.parametrize("complete", [False, True], ids=["no-c", "-c"])
def test_run_missing_queries_equals_anserini_trec_eval(cranfield_flat, tmp_path, complete):
    partial = {qid: hits for i, (qid, hits) in enumerate(cranfield_flat.run.items()) if i % 9 != 0}
    assert len(partial) == 200
    run_file = tmp_path / "partial.trec"
    write_run(partial, run_file)
    measures = MEASURES + ["P.10"]
    expected = anserini(*(["-c"] if complete else []), *binary_args(measures), cranfield_flat.qrels_file, run_file)
    assert ours_as_printed(cranfield_flat.qrels, read_run(run_file), measures, complete=complete) == expected


def test_trec_eval_cli_equals_anserini_trec_eval(cranfield_flat, cli, data_dir):
    """Our trec_eval command (qrels given by dataset name, from the mirror) prints what the binary prints."""
    done = cli("pyserini_dr.eval.trec_eval", "-c", "-q", "-m", "ndcg_cut.10", "-m", "map", "-m", "recall.100,1000",
               "-m", "recip_rank", "cranfield", cranfield_flat.run_file, env={"PYSERINI_DR_DATA": str(data_dir)})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    got = {}
    for line in done.stdout.splitlines():
        label, qid, value = line.split("\t")
        got[(label.strip(), qid)] = value
    expected = anserini("-c", "-q", *binary_args(MEASURES), cranfield_flat.qrels_file, cranfield_flat.run_file)
    assert len(got) == len(expected) == 5 * 226
    assert got == expected


# ---- MS MARCO MRR@10 --------------------------------------------------------------------------------------------

H8, H10 = Fraction(761, 280), Fraction(7381, 2520)  # 1 + 1/2 + ... + 1/8, ... + 1/10


@pytest.fixture(scope="module")
def dev_relevant(data_dir) -> dict[str, list[str]]:
    """qid -> relevant pids of the dev-small qrels, read by hand (BEIR TSV with a header), in file order."""
    need(data_dir, "msmarco-passage-eval/qrels/dev.tsv")
    relevant: dict[str, list[str]] = {}
    with open(data_dir / "msmarco-passage-eval" / "qrels" / "dev.tsv") as f:
        assert next(f).split() == ["query-id", "corpus-id", "score"]
        for line in f:
            qid, pid, score = line.split()
            assert score == "1"
            relevant.setdefault(qid, []).append(pid)
    assert len(relevant) == 6980
    return relevant


def answer_rank(i: int) -> int:
    return i % 12 + 1  # ranks 1..12; 11 and 12 are outside the top 10


def build_run(relevant, keep=lambda i: True, extra_queries=()) -> list[tuple[str, str, int]]:
    """12 hits per query; the first relevant passage at rank answer_rank(i); fillers are ids judged nowhere."""
    rows = []
    for i, (qid, pids) in enumerate(relevant.items()):
        if not keep(i):
            continue
        for rank in range(1, 13):
            pid = pids[0] if rank == answer_rank(i) else str(100_000_000 + 12 * i + rank)
            rows.append((qid, pid, rank))
    first_pids = [pids[0] for pids in relevant.values()]
    for j, qid in enumerate(extra_queries):
        rows.append((qid, first_pids[j], 1))  # a relevant pid of another query, under an unjudged query id
    return rows


def write_msmarco(rows, path: Path) -> Path:
    path.write_text("".join(f"{q}\t{p}\t{r}\n" for q, p, r in rows))
    return path


def write_trec(rows, path: Path) -> Path:
    path.write_text("".join(f"{q} Q0 {p} {r} {100 - r} run\n" for q, p, r in rows))
    return path


def test_mrr_at_10_known_ranks(dev_relevant, tmp_path, cli, data_dir):
    n = len(dev_relevant)
    assert (n // 12, n % 12) == (581, 8)
    expected = (581 * H10 + H8) / n  # each cycle of 12 queries adds 1/1 + ... + 1/10 (+ 0 + 0)
    assert float(expected) == pytest.approx(0.244191, abs=1e-6)

    rows = build_run(dev_relevant)
    qrels_path = data_dir / "msmarco-passage-eval" / "qrels" / "dev.tsv"
    scores = mrr_at_10(read_qrels(qrels_path), read_run(write_msmarco(rows, tmp_path / "run.dev.tsv")))
    assert scores["MRR @10"] == pytest.approx(float(expected), abs=1e-12)
    assert scores["QueriesRanked"] == n
    # a TREC run with the same ranking gives the same value
    trec_scores = mrr_at_10(read_qrels(qrels_path), read_run(write_trec(rows, tmp_path / "run.dev.trec")))
    assert trec_scores == scores

    printed = ("#####################\n"
               f"MRR @10: {float(expected):.4f}\n"
               f"QueriesRanked: {n}\n"
               "#####################\n")
    assert printed == "#####################\nMRR @10: 0.2442\nQueriesRanked: 6980\n#####################\n"
    done = cli("pyserini_dr.eval.msmarco", qrels_path, tmp_path / "run.dev.tsv")
    assert (done.returncode, done.stdout, done.stderr) == (0, printed, "")
    # the dataset name resolves to the same qrels through the mirror
    done = cli("pyserini_dr.eval.msmarco", "msmarco-passage-dev-subset", tmp_path / "run.dev.trec",
               env={"PYSERINI_DR_DATA": str(data_dir)})
    assert (done.returncode, done.stdout, done.stderr) == (0, printed, "")


def test_mrr_at_10_missing_and_unjudged_queries(dev_relevant):
    """Judged queries missing from the run count 0; queries in the run without judgements only count as ranked."""
    keep = lambda i: i % 7 != 0
    rows = build_run(dev_relevant, keep, extra_queries=["unjudged-1", "unjudged-2", "unjudged-3"])
    run: dict[str, list[tuple[str, float]]] = {}
    for qid, pid, rank in rows:
        run.setdefault(qid, []).append((pid, 1.0 / rank))
    kept = [i for i in range(len(dev_relevant)) if keep(i)]
    expected = sum(Fraction(1, answer_rank(i)) for i in kept if answer_rank(i) <= 10) / len(dev_relevant)
    qrels = {qid: {pid: 1 for pid in pids} for qid, pids in dev_relevant.items()}
    scores = mrr_at_10(qrels, run)
    assert scores["MRR @10"] == pytest.approx(float(expected), abs=1e-12)
    assert scores["QueriesRanked"] == len(kept) + 3 == 5982 + 3


def test_mrr_refuses_a_passage_ranked_twice(tmp_path, cli):
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("q1 0 p1 1\nq2 0 p2 1\n")
    run = write_msmarco([("q1", "p1", 1), ("q2", "p9", 1), ("q2", "p2", 2), ("q2", "p9", 3)], tmp_path / "run.tsv")
    with pytest.raises(InputError) as e:  # a run file: its line is named
        read_run(run)
    twice = f"{run}:4: document p9 is ranked twice for query q2 (trec_eval refuses such a run)"
    assert str(e.value) == twice
    assert cli("pyserini_dr.eval.msmarco", qrels, run).error_line() == f"error: {twice}"
    with pytest.raises(InputError) as e:  # a run built in Python
        mrr_at_10(read_qrels(qrels), {"q1": [("p1", 1.0)], "q2": [("p9", 1.0), ("p2", 0.5), ("p9", 0.3)]})
    assert str(e.value) == "query q2 ranks the same passage twice"


def test_mrr_no_query_in_common(tmp_path, cli):
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("q1 0 p1 1\n")
    run = write_msmarco([("q2", "p1", 1)], tmp_path / "run.tsv")
    assert cli("pyserini_dr.eval.msmarco", qrels, run).error_line() == \
        "error: the qrels and the run have no query in common"


def test_mrr_relevance_level_on_graded_qrels(tmp_path, cli):
    # TREC DL style grades 0..3; with -l 2 a grade-1 passage does not count
    qrels = tmp_path / "qrels.dl.txt"
    qrels.write_text("q1 0 p1 1\nq1 0 p2 3\n"
                     "q2 0 p3 2\nq2 0 p4 1\n"
                     "q3 0 p5 0\nq3 0 p6 2\n")
    run = write_msmarco([("q1", "p1", 1), ("q1", "p2", 2),
                         ("q2", "p4", 1), ("q2", "px", 2), ("q2", "p3", 3),
                         ("q3", "p5", 1), ("q3", "p6", 2)], tmp_path / "run.tsv")
    level1 = (Fraction(1) + Fraction(1) + Fraction(1, 2)) / 3
    level2 = (Fraction(1, 2) + Fraction(1, 3) + Fraction(1, 2)) / 3
    assert mrr_at_10(read_qrels(qrels), read_run(run)) == {"MRR @10": pytest.approx(float(level1)),
                                                           "QueriesRanked": 3}
    assert mrr_at_10(read_qrels(qrels), read_run(run), relevance_level=2) == {
        "MRR @10": pytest.approx(float(level2)), "QueriesRanked": 3}
    done = cli("pyserini_dr.eval.msmarco", "-l", "2", qrels, run)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[1:3] == [f"MRR @10: {float(level2):.4f}", "QueriesRanked: 3"]
    assert done.stdout.splitlines()[1] == "MRR @10: 0.4444"
    done = cli("pyserini_dr.eval.msmarco", qrels, run)
    assert done.stdout.splitlines()[1] == "MRR @10: 0.8333"
