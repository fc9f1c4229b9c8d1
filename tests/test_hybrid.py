"""Run fusion (pyserini_dr.fusion) and the dense + BM25 hybrid (pyserini_dr.search.hybrid, its CLI and tune).

1. fusion of two hand-made runs, every score computed by hand below; the fusion CLI;
2. ``search.hybrid.interpolation.hybrid`` against a hand computation and against pyserini's own ``HybridSearcher._hybrid_results``;
3. the acceptance test: our hybrid equals pyserini's HybridSearcher on every SciFact test query, over a SciFact
   subset (every document judged for a test query plus the first 100 others) indexed twice: Lucene and MiniLM;
4. alpha tuning (sweep, best, check_disjoint, plot);
5. the hybrid command line.

Sections 3-5 need the data mirror, the offline MiniLM package and Java; they skip without them. The subset's
indexes are built once per session (about a minute on two CPU cores).
"""
from __future__ import annotations

import math
import os
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import N_CLI
from pyserini_dr.errors import InputError
from pyserini_dr.fusion import comb, fuse, interpolation, min_max, reciprocal_rank_fusion
from pyserini_dr.search.hybrid.interpolation import hybrid, hybrid_runs

REPO = Path(__file__).resolve().parents[1]


# ---- helpers ----------------------------------------------------------------------------------------------------

def approx_hits(hits, tol=1e-12):
    """[(docid, score)] compared with docids exact and scores to ``tol``."""
    return [(d, pytest.approx(s, abs=tol)) for d, s in hits]


def assert_same_hits(ours, theirs, *, tie=1e-6, tol=1e-5, where=""):
    """Same docids in the same order, scores to ``tol``; two documents may swap places only where our scores for
    them are equal to ``tie``, and a document may be in one list only where it ties with the last hit."""
    assert len(ours) == len(theirs), (where, len(ours), len(theirs))
    o, t = dict(ours), dict(theirs)
    assert len(o) == len(ours) and len(t) == len(theirs), where  # no docid twice
    for rank, ((od, os_), (td, ts)) in enumerate(zip(ours, theirs), 1):
        assert abs(os_ - ts) <= tol, (where, rank, od, os_, td, ts)
        if od != td:
            assert abs(o.get(td, ts) - os_) <= tie, (where, rank, od, os_, td, ts)
    for d in o.keys() & t.keys():
        assert abs(o[d] - t[d]) <= tol, (where, d, o[d], t[d])
    for d in o.keys() ^ t.keys():
        assert abs(o.get(d, t.get(d)) - ours[-1][1]) <= tie, (where, d)


@dataclass
class Hit:
    """What pyserini's HybridSearcher reads from a dense or sparse hit."""
    docid: str
    score: float


@pytest.fixture(scope="session")
def pyserini_ns():
    from pyserini_dr import _pyserini

    try:
        return _pyserini.pyserini()
    except _pyserini.JavaUnavailable as e:
        pytest.skip(f"pyserini or Java unavailable: {e}")


# ---- 1. run fusion on a hand-made example -------------------------------------------------------------------------
#
# Two runs, three queries. d2 (q1) is missing from B, d4 (q1) and d5 (q2) from A, and q3 from B altogether.
# A's q3 scores are all equal: ranked by docid (d1 before d5), min-max normalized to 1 (as pyserini's NORMALIZE).

A = {"q1": [("d1", 3.0), ("d2", 2.0), ("d3", 1.0)],
     "q2": [("d2", 4.0), ("d4", 2.0)],
     "q3": [("d5", 0.5), ("d1", 0.5)]}
B = {"q1": [("d3", 0.9), ("d1", 0.6), ("d4", 0.3)],
     "q2": [("d4", 2.0), ("d2", 1.0), ("d5", 0.5)]}


def test_rrf_k60_by_hand():
    # ranks   A: q1 d1 1, d2 2, d3 3 | q2 d2 1, d4 2 | q3 d1 1, d5 2 (tie on 0.5 -> docid order)
    #         B: q1 d3 1, d1 2, d4 3 | q2 d4 1, d2 2, d5 3
    fused = reciprocal_rank_fusion([A, B])
    assert list(fused) == ["q1", "q2", "q3"]
    assert fused["q1"] == approx_hits([("d1", 1 / 61 + 1 / 62),    # 0.0325225
                                       ("d3", 1 / 63 + 1 / 61),    # 0.0322665
                                       ("d2", 1 / 62),             # 0.0161290
                                       ("d4", 1 / 63)])            # 0.0158730
    # q2: d2 = 1/61 + 1/62 and d4 = 1/62 + 1/61 tie exactly -> docid order
    assert fused["q2"] == [("d2", 1 / 61 + 1 / 62), ("d4", 1 / 61 + 1 / 62), ("d5", 1 / 63)]
    assert fused["q3"] == [("d1", 1 / 61), ("d5", 1 / 62)]


def test_rrf_other_k_depth_and_hits():
    # rrf_k = 1: 1 / (1 + rank)
    fused = reciprocal_rank_fusion([A, B], rrf_k=1)
    assert fused["q1"] == approx_hits([("d1", 1 / 2 + 1 / 3),     # 0.8333
                                       ("d3", 1 / 4 + 1 / 2),     # 0.75
                                       ("d2", 1 / 3),             # 0.3333
                                       ("d4", 1 / 4)])            # 0.25
    assert fused["q2"] == approx_hits([("d2", 1 / 2 + 1 / 3), ("d4", 1 / 3 + 1 / 2), ("d5", 1 / 4)])
    assert fused["q3"] == approx_hits([("d1", 1 / 2), ("d5", 1 / 3)])

    # depth 1: only each run's first hit counts: q1 d1 (A) and d3 (B), 1/61 each -> docid order
    fused = reciprocal_rank_fusion([A, B], rrf_k=60, depth=1)
    assert fused == {"q1": [("d1", 1 / 61), ("d3", 1 / 61)],
                     "q2": [("d2", 1 / 61), ("d4", 1 / 61)],
                     "q3": [("d1", 1 / 61)]}

    # depth 2: q1 A d1 1, d2 2; B d3 1, d1 2 -> d1 = 1/61 + 1/62, d3 = 1/61, d2 = 1/62; hits 2 keeps the top two
    fused = reciprocal_rank_fusion([A, B], depth=2, hits=2)
    assert fused["q1"] == approx_hits([("d1", 1 / 61 + 1 / 62), ("d3", 1 / 61)])
    assert fused["q2"] == approx_hits([("d2", 1 / 61 + 1 / 62), ("d4", 1 / 62 + 1 / 61)])
    assert fused["q3"] == approx_hits([("d1", 1 / 61), ("d5", 1 / 62)])
    assert fuse([A, B], "rrf", depth=2, hits=2) == fused


def test_interpolation_raw_scores_by_hand():
    # 0.3 * A + 0.7 * B; a missing document adds 0
    fused = interpolation([A, B], alpha=0.3)
    assert fused["q1"] == approx_hits([("d1", 0.3 * 3.0 + 0.7 * 0.6),    # 0.9 + 0.42 = 1.32
                                       ("d3", 0.3 * 1.0 + 0.7 * 0.9),    # 0.3 + 0.63 = 0.93
                                       ("d2", 0.3 * 2.0),                # 0.6 (not in B)
                                       ("d4", 0.7 * 0.3)])               # 0.21 (not in A)
    assert fused["q1"] == approx_hits([("d1", 1.32), ("d3", 0.93), ("d2", 0.6), ("d4", 0.21)])
    assert fused["q2"] == approx_hits([("d4", 2.0), ("d2", 1.9), ("d5", 0.35)])  # 0.6+1.4, 1.2+0.7, 0.7*0.5
    assert fused["q3"] == approx_hits([("d1", 0.15), ("d5", 0.15)])  # q3 only in A: 0.3 * 0.5 each, docid order
    assert interpolation([A, B], alpha=0.3, hits=2)["q1"] == approx_hits([("d1", 1.32), ("d3", 0.93)])
    # depth 1: A q1 keeps d1 (3.0), B q1 keeps d3 (0.9)
    assert interpolation([A, B], alpha=0.3, depth=1)["q1"] == approx_hits([("d1", 0.9), ("d3", 0.63)])


def test_interpolation_normalized_by_hand():
    # min-max per query and run:
    #   A q1 (min 1, max 3): d1 1, d2 0.5, d3 0    A q2 (2, 4): d2 1, d4 0    A q3 all 0.5 -> 1, 1
    #   B q1 (0.3, 0.9):     d3 1, d1 0.5, d4 0    B q2 (0.5, 2): d4 1, d2 (1 - 0.5) / 1.5 = 1/3, d5 0
    assert min_max(A["q1"]) == approx_hits([("d1", 1.0), ("d2", 0.5), ("d3", 0.0)])
    assert min_max(B["q2"]) == approx_hits([("d4", 1.0), ("d2", 1 / 3), ("d5", 0.0)])
    assert min_max(A["q3"]) == [("d5", 1.0), ("d1", 1.0)]   # pyserini/trectools/_base.py: np.ones_like
    assert min_max([("x", -2.0)]) == [("x", 1.0)]
    assert min_max([]) == []

    fused = interpolation([A, B], alpha=0.3, normalization=True)
    assert fused["q1"] == approx_hits([("d3", 0.3 * 0.0 + 0.7 * 1.0),    # 0.7
                                       ("d1", 0.3 * 1.0 + 0.7 * 0.5),    # 0.65
                                       ("d2", 0.3 * 0.5),                # 0.15
                                       ("d4", 0.7 * 0.0)])               # 0
    assert fused["q2"] == approx_hits([("d4", 0.7), ("d2", 0.3 + 0.7 / 3), ("d5", 0.0)])  # d2 0.5333
    assert fused["q3"] == [("d1", 0.3), ("d5", 0.3)]
    assert fuse([A, B], "interpolation", alpha=0.3, normalization=True) == fused


def test_combsum_and_combmnz_by_hand():
    s = comb([A, B])
    assert s["q1"] == approx_hits([("d1", 3.6), ("d2", 2.0), ("d3", 1.9), ("d4", 0.3)])  # 3+0.6, 2, 1+0.9, 0.3
    assert s["q2"] == approx_hits([("d2", 5.0), ("d4", 4.0), ("d5", 0.5)])              # 4+1, 2+2, 0.5
    assert s["q3"] == [("d1", 0.5), ("d5", 0.5)]

    # MNZ: the sum times the number of runs retrieving the document; d3 (two runs) passes d2 (one run)
    m = comb([A, B], mnz=True)
    assert m["q1"] == approx_hits([("d1", 3.6 * 2), ("d3", 1.9 * 2), ("d2", 2.0 * 1), ("d4", 0.3 * 1)])
    assert m["q2"] == approx_hits([("d2", 10.0), ("d4", 8.0), ("d5", 0.5)])
    assert m["q3"] == [("d1", 0.5), ("d5", 0.5)]

    # normalized (values from test_interpolation_normalized_by_hand)
    sn = comb([A, B], normalization=True)
    assert sn["q1"] == approx_hits([("d1", 1.5), ("d3", 1.0), ("d2", 0.5), ("d4", 0.0)])
    assert sn["q2"] == approx_hits([("d2", 1 + 1 / 3), ("d4", 1.0), ("d5", 0.0)])
    mn = comb([A, B], mnz=True, normalization=True)
    assert mn["q1"] == approx_hits([("d1", 3.0), ("d3", 2.0), ("d2", 0.5), ("d4", 0.0)])
    assert mn["q2"] == approx_hits([("d2", 2 * (1 + 1 / 3)), ("d4", 2.0), ("d5", 0.0)])
    assert fuse([A, B], "combsum") == s and fuse([A, B], "combmnz") == m
    assert fuse([A, B], "combmnz", hits=1) == {"q1": m["q1"][:1], "q2": m["q2"][:1], "q3": [("d1", 0.5)]}


def test_ties_break_by_docid_ascending():
    # equal scores in any input order come out by docid (string order: "a10" < "a9" < "b")
    run1 = {"q": [("b", 1.0), ("a9", 1.0), ("a10", 1.0), ("c", 2.0)]}
    run2 = {"q": [("z", 0.5)]}
    assert comb([run1, {}])["q"] == [("c", 2.0), ("a10", 1.0), ("a9", 1.0), ("b", 1.0)]
    # rrf ranks follow that order too: c 1, a10 2, a9 3, b 4; z is first in run2 and ties with c
    assert reciprocal_rank_fusion([run1, run2])["q"] == [("c", 1 / 61), ("z", 1 / 61), ("a10", 1 / 62),
                                                         ("a9", 1 / 63), ("b", 1 / 64)]
    assert interpolation([run1, run2], alpha=0.5)["q"] == [("c", 1.0), ("a10", 0.5), ("a9", 0.5), ("b", 0.5),
                                                           ("z", 0.25)]


def test_fusion_refusals():
    with pytest.raises(InputError) as e:
        fuse([A, B], "max")
    assert str(e.value) == "unknown fusion method 'max' (rrf, interpolation, average, normalize, combsum, combmnz)"
    with pytest.raises(InputError) as e:
        interpolation([A, B, A])
    assert str(e.value) == "interpolation fuses exactly two runs, got 3"


def write_trec(path: Path, run: dict) -> Path:
    path.write_text("".join(f"{q} Q0 {d} {r} {s} test\n" for q, hits in run.items()
                            for r, (d, s) in enumerate(hits, 1)))
    return path


def test_fusion_cli_rrf(cli, tmp_path):
    a, b, out = write_trec(tmp_path / "a.trec", A), write_trec(tmp_path / "b.trec", B), tmp_path / "out" / "rrf.trec"
    done = cli("pyserini_dr.fusion", "--runs", a, b, "--method", "rrf", "--output", out)
    assert done.returncode == 0, done.stderr
    # scores with every digit, as pyserini.fusion writes them (6 decimals would tie d2 and d4 of q2 by rounding alone)
    assert out.read_text().splitlines() == [
        f"q1 Q0 d1 1 {1 / 61 + 1 / 62!r} pyserini-dr-rrf",
        f"q1 Q0 d3 2 {1 / 63 + 1 / 61!r} pyserini-dr-rrf",
        f"q1 Q0 d2 3 {1 / 62!r} pyserini-dr-rrf",
        f"q1 Q0 d4 4 {1 / 63!r} pyserini-dr-rrf",
        f"q2 Q0 d2 1 {1 / 61 + 1 / 62!r} pyserini-dr-rrf",
        f"q2 Q0 d4 2 {1 / 62 + 1 / 61!r} pyserini-dr-rrf",
        f"q2 Q0 d5 3 {1 / 63!r} pyserini-dr-rrf",
        f"q3 Q0 d5 1 {1 / 61!r} pyserini-dr-rrf",   # the file ranks d5 first (a tie): its rank is kept
        f"q3 Q0 d1 2 {1 / 62!r} pyserini-dr-rrf",
    ]
    assert done.stderr.splitlines() == [f"fused 2 runs with rrf: 3 queries, 9 hits -> {out}"]

    # interpolation with normalization, through the same command (Pyserini's flag names: --k, --runtag)
    out2 = tmp_path / "interp.trec"
    done = cli("pyserini_dr.fusion", "--runs", a, b, "--method", "interpolation", "--alpha", "0.3",
               "--normalization", "--k", "2", "--output", out2, "--runtag", "mine")
    assert done.returncode == 0, done.stderr
    assert out2.read_text().splitlines() == [
        f"q1 Q0 d3 1 {0.3 * 0.0 + 0.7 * 1.0!r} mine", f"q1 Q0 d1 2 {0.3 * 1.0 + 0.7 * 0.5!r} mine",
        f"q2 Q0 d4 1 {0.3 * 0.0 + 0.7 * 1.0!r} mine", f"q2 Q0 d2 2 {0.3 * 1.0 + 0.7 * (0.5 / 1.5)!r} mine",
        f"q3 Q0 d1 1 {0.3 * 1.0!r} mine", f"q3 Q0 d5 2 {0.3 * 1.0!r} mine"]


def test_fusion_cli_takes_each_files_ranks_and_order_as_pyserini_does(cli, tmp_path):
    """A run whose ties a searcher broke its own way (d9 ranked before d1 at the same score): RRF takes the file's
    ranks, as pyserini.fusion does, instead of re-ranking ties by docid; --resort ranks by score, ties in file
    order."""
    a = tmp_path / "a.trec"
    a.write_text("q1 Q0 d9 1 2.0 x\nq1 Q0 d1 2 2.0 x\nq1 Q0 d5 3 1.0 x\n")
    b = write_trec(tmp_path / "b.trec", {"q1": [("d5", 3.0)]})
    out = tmp_path / "out.trec"
    assert cli("pyserini_dr.fusion", "--runs", a, b, "--output", out, "--depth", "2").returncode == 0
    assert [line.split()[2:4] for line in out.read_text().splitlines()] == [["d5", "1"], ["d9", "2"], ["d1", "3"]]
    assert out.read_text().splitlines()[1].split()[4] == repr(1 / 61)   # d9 keeps rank 1; depth 2 drops A's d5
    a.write_text("q1 Q0 d5 1 1.0 x\nq1 Q0 d9 2 2.0 x\nq1 Q0 d1 3 2.0 x\n")   # ranks out of score order
    assert cli("pyserini_dr.fusion", "--runs", a, b, "--output", out, "--resort").returncode == 0
    assert [line.split()[2] for line in out.read_text().splitlines()] == ["d5", "d9", "d1"]
    assert out.read_text().splitlines()[0].split()[4] == repr(1 / 63 + 1 / 61)   # d5 ranked third once resorted


def test_fusion_cli_refusals(cli, tmp_path):
    a, b, out = write_trec(tmp_path / "a.trec", A), write_trec(tmp_path / "b.trec", B), tmp_path / "out.trec"
    done = cli("pyserini_dr.fusion", "--runs", a, "--output", out)
    assert done.error_line() == "error: --runs needs at least two run files"
    assert not out.exists()

    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 d1 1 3.0\n")
    done = cli("pyserini_dr.fusion", "--runs", a, bad, "--output", out)
    assert done.error_line() == f"error: {bad}:1: a run line has 6 (TREC) or 3 (MS MARCO) columns, found 5"
    bad.write_text("q1 Q0 d1 1 3.0 x\n\nq1 d2 2\n")
    done = cli("pyserini_dr.fusion", "--runs", bad, b, "--output", out)
    assert done.error_line() == f"error: {bad}:3: expected 6 columns like the first line, found 3"
    assert not out.exists()


# ---- 2. HybridSearcher's dense + sparse interpolation ---------------------------------------------------------------
#
# dense  d1 0.75, d2 0.5, d3 0.25          (min 0.25, max 0.75)
# sparse d2 12,   d4 10,  d1 6             (min 6, max 12)
# d3 is missing from sparse -> sparse 6 (its min); d4 is missing from dense -> dense 0.25 (its min).
# Normalized: sparse (s - 9) / 6:  d1 -0.5, d2 0.5, d3 -0.5, d4 1/6
#             dense (d - 0.5) / 0.5: d1 0.5, d2 0,   d3 -0.5, d4 -0.5

DENSE = [("d1", 0.75), ("d2", 0.5), ("d3", 0.25)]
SPARSE = [("d2", 12.0), ("d4", 10.0), ("d1", 6.0)]

HAND = [  # (alpha, normalization, weight_on_dense, expected)
    (0.1, False, False, [("d2", 1.2 + 0.5), ("d1", 0.6 + 0.75), ("d4", 1.0 + 0.25), ("d3", 0.6 + 0.25)]),
    # alpha 0.125: d1 = 0.75 + 0.75 = 1.5 and d4 = 1.25 + 0.25 = 1.5 tie exactly -> docid order
    (0.125, False, False, [("d2", 1.5 + 0.5), ("d1", 1.5), ("d4", 1.5), ("d3", 0.75 + 0.25)]),
    # sparse + 0.5 * dense
    (0.5, False, True, [("d2", 12 + 0.25), ("d4", 10 + 0.125), ("d1", 6 + 0.375), ("d3", 6 + 0.125)]),
    # 0.1 * sparse_n + dense_n
    (0.1, True, False, [("d1", -0.05 + 0.5), ("d2", 0.05 + 0.0), ("d4", 0.1 / 6 - 0.5), ("d3", -0.05 - 0.5)]),
    # sparse_n + 2 * dense_n: d1 = -0.5 + 1 and d2 = 0.5 + 0 tie exactly
    (2.0, True, True, [("d1", 0.5), ("d2", 0.5), ("d4", 1 / 6 - 1.0), ("d3", -0.5 - 1.0)]),
]


@pytest.mark.parametrize("alpha,normalization,weight_on_dense,expected", HAND)
def test_hybrid_by_hand(alpha, normalization, weight_on_dense, expected):
    got = hybrid(DENSE, SPARSE, alpha=alpha, normalization=normalization, weight_on_dense=weight_on_dense,
                 hits=10)
    assert got == approx_hits(expected)
    assert hybrid(DENSE, SPARSE, alpha=alpha, normalization=normalization, weight_on_dense=weight_on_dense,
                  hits=2) == approx_hits(expected[:2])


def test_hybrid_empty_lists_and_runs():
    # no dense hits: every dense score is 0 (pyserini's default min), so the score is alpha * sparse
    assert hybrid([], SPARSE, alpha=0.1) == approx_hits([("d2", 1.2), ("d4", 1.0), ("d1", 0.6)])
    assert hybrid(DENSE, [], alpha=0.1) == DENSE
    assert hybrid([], [], alpha=0.1) == []
    # the queries are the dense run's, as HybridSearcher.batch_search iterates the dense results
    fused = hybrid_runs({"q1": DENSE, "q2": []}, {"q1": SPARSE, "q3": SPARSE}, alpha=0.1, hits=10)
    assert list(fused) == ["q1", "q2"]
    assert fused["q1"] == hybrid(DENSE, SPARSE, alpha=0.1) and fused["q2"] == []


@pytest.mark.parametrize("alpha,normalization,weight_on_dense,expected", HAND)
def test_hand_example_matches_pyserini(pyserini_ns, alpha, normalization, weight_on_dense, expected):
    theirs = pyserini_ns.HybridSearcher._hybrid_results([Hit(*h) for h in DENSE], [Hit(*h) for h in SPARSE],
                                                        alpha, 10, normalization, weight_on_dense)
    assert_same_hits(expected, [(h.docid, h.score) for h in theirs], tol=1e-12, tie=1e-12)


def random_hits(rng: random.Random, pool: list[str], n: int, lo: float, hi: float):
    return [(d, rng.uniform(lo, hi)) for d in rng.sample(pool, n)]


def test_hybrid_equals_pyserini_on_random_lists(pyserini_ns):
    rng = random.Random(20240601)
    pool = [f"doc{i}" for i in range(40)]
    cases = 0
    for trial in range(30):
        dense = random_hits(rng, pool, rng.choice([0, 1, 5, 20]) if trial % 10 == 9 else 20, 0.2, 0.9)
        sparse = random_hits(rng, pool, 25, 1.0, 30.0)
        if trial % 10 == 4:
            sparse = []
        for alpha in (0.0, 0.04, 0.5, 1.3):
            for normalization in (False, True):
                if normalization and (len(dense) == 1 or len(sparse) == 1):
                    continue  # a single score: pyserini divides by zero
                for weight_on_dense in (False, True):
                    for k in (10, 1000):
                        ours = hybrid(dense, sparse, alpha=alpha, normalization=normalization,
                                      weight_on_dense=weight_on_dense, hits=k)
                        theirs = pyserini_ns.HybridSearcher._hybrid_results(
                            [Hit(*h) for h in dense], [Hit(*h) for h in sparse], alpha, k, normalization,
                            weight_on_dense)
                        theirs = [(h.docid, h.score) for h in theirs]
                        # docids in order, except that pyserini leaves equal scores in set order (alpha 0 gives
                        # every document missing from the dense list the same score)
                        assert_same_hits(ours, theirs, tol=1e-6, tie=1e-12,
                                         where=(trial, alpha, normalization, weight_on_dense, k))
                        assert len(ours) == min(k, len(set(dict(dense)) | set(dict(sparse))))
                        cases += 1
    assert cases > 400


@pytest.fixture(scope="session")
def encoder(subset):
    from pyserini_dr.encode import DenseEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        return DenseEncoder(subset.model)


@pytest.fixture(scope="session")
def ours(subset, encoder):
    """Our HybridSearch over the subset."""
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.search.faiss import DenseSearcher
    from pyserini_dr.search.hybrid import HybridSearch
    from pyserini_dr.search.lucene import BM25Searcher

    return HybridSearch(DenseSearcher(DenseIndex(str(subset.dense)), encoder),
                        BM25Searcher(str(subset.lucene), k1=0.9, b=0.4))


@pytest.fixture(scope="session")
def theirs(subset, encoder, pyserini_ns):
    """Pyserini's HybridSearcher over the same two indexes, with the same query encoder."""
    sparse = pyserini_ns.LuceneSearcher(str(subset.lucene))
    sparse.set_bm25(0.9, 0.4)
    return pyserini_ns.HybridSearcher(pyserini_ns.FaissSearcher(str(subset.dense), encoder), sparse)


# ---- 3. acceptance: our hybrid equals pyserini's HybridSearcher on every SciFact test query ----------------------

def test_pyserini_faiss_searcher_gives_our_top10_for_every_scifact_test_query(subset, ours, theirs):
    """Our dense index directory loads in pyserini's FaissSearcher and ranks as our DenseSearcher does."""
    topics = subset.test_topics
    qids = list(topics)
    assert len(qids) == 300
    mine = ours.dense.batch_search(topics, hits=10)
    ref = theirs.dense_searcher.batch_search([topics[q] for q in qids], qids, k=10)
    for qid in qids:
        assert_same_hits(mine[qid], [(h.docid, float(h.score)) for h in ref[qid]], tol=1e-5, where=qid)


@pytest.mark.parametrize("alpha,normalization", [(0.04, False), (0.95, True)])
def test_hybrid_equals_pyserini_hybrid_searcher_on_scifact(subset, ours, theirs, alpha, normalization):
    topics = subset.test_topics
    qids = list(topics)
    mine = ours.batch_search(topics, k0=100, hits=100, alpha=alpha, normalization=normalization)
    ref = theirs.batch_search([topics[q] for q in qids], qids, k0=100, k=100, alpha=alpha,
                              normalization=normalization)
    assert list(mine) == qids and sorted(ref) == sorted(qids)
    swapped = 0
    for qid in qids:
        assert len(mine[qid]) == 100, qid
        ref_hits = [(h.docid, float(h.score)) for h in ref[qid]]
        assert_same_hits(mine[qid], ref_hits, tie=1e-6, tol=1e-5, where=qid)
        swapped += [d for d, _ in mine[qid]] != [d for d, _ in ref_hits]
    assert swapped <= 10  # ties only, rare

    # the fusion did something: the dense ranking alone is not the hybrid's on most queries
    dense = ours.dense.batch_search(topics, 10)
    differ = sum([d for d, _ in dense[q]] != [d for d, _ in mine[q][:10]] for q in qids)
    assert differ > 100, differ


# ---- 4. tuning ---------------------------------------------------------------------------------------------------

def test_sweep_equals_fusing_and_evaluating(subset, ours):
    from pyserini_dr.eval import evaluate
    from pyserini_dr.search.hybrid import fuse_components
    from pyserini_dr.search.hybrid.tune import sweep

    dense, sparse = ours.component_runs(subset.train_topics, 100)
    assert list(dense) == list(subset.train_topics)
    grids = {False: [0.0, 0.04, 0.2], True: [0.0, 0.5, 0.95]}
    for metric in ("ndcg_cut.10", "recall.10", "map"):
        points = sweep(dense, sparse, subset.train_qrels, metric, hits=100, grids=grids)
        assert [(p.alpha, p.normalization) for p in points] == [(0.0, False), (0.04, False), (0.2, False),
                                                                 (0.0, True), (0.5, True), (0.95, True)]
        for p in points:
            run = fuse_components(dense, sparse, alpha=p.alpha, normalization=p.normalization, hits=100)
            expected = evaluate(subset.train_qrels, run, [metric])[metric]
            assert p.score == pytest.approx(expected, abs=1e-12), (metric, p)
        assert len({round(p.score, 6) for p in points}) > 1, points  # alpha matters on these queries
        assert all(0 < p.score <= 1 for p in points)


def test_grids():
    from pyserini_dr.search.hybrid.tune import GRIDS

    assert len(GRIDS[False]) == 31 and GRIDS[False][:3] == [0.0, 0.01, 0.02] and GRIDS[False][-1] == 0.3
    assert len(GRIDS[True]) == 41 and GRIDS[True][:3] == [0.0, 0.05, 0.1] and GRIDS[True][-1] == 2.0


def test_best_picks_the_max_then_smaller_alpha_then_no_normalization():
    from pyserini_dr.search.hybrid.tune import Point, best

    points = [Point(0.2, False, 0.5), Point(0.3, False, 0.7), Point(0.1, False, 0.7), Point(0.05, True, 0.6)]
    assert best(points) == Point(0.1, False, 0.7)                      # tie on 0.7: the smaller alpha
    assert best([Point(0.1, True, 0.7), Point(0.1, False, 0.7)]) == Point(0.1, False, 0.7)  # same alpha: raw
    assert best([Point(0.0, False, 0.69), Point(0.25, True, 0.71)]) == Point(0.25, True, 0.71)  # the max wins
    # scores equal to 1e-10 are a tie
    assert best([Point(0.3, False, 0.7 + 1e-12), Point(0.1, False, 0.7)]) == Point(0.1, False, 0.7)
    assert best([Point(0.3, False, 0.7 + 1e-9), Point(0.1, False, 0.7)]) == Point(0.3, False, 0.7 + 1e-9)


def test_best_tie_across_normalizations_goes_to_the_smaller_alpha():
    from pyserini_dr.search.hybrid.tune import Point, best

    assert best([Point(0.3, False, 0.7), Point(0.1, True, 0.7)]) == Point(0.1, True, 0.7)


def test_check_disjoint():
    from pyserini_dr.search.hybrid.tune import check_disjoint, tune_and_test

    assert check_disjoint({"1": "a", "2": "b"}, {"3": "c"}) is None
    with pytest.raises(InputError) as e:
        check_disjoint({"1": "a", "2": "b", "3": "c"}, {"3": "c", "2": "b", "9": "z"})
    assert str(e.value) == "the tuning and test topics share 2 queries: never tune on the test split"

    class NoSearch:
        def component_runs(self, *args, **kwargs):
            raise AssertionError("searched before the refusal")

    with pytest.raises(InputError) as e:
        tune_and_test(NoSearch(), {"1": "a"}, {"1": {"d": 1}}, {"1": "a"})
    assert str(e.value) == "the tuning and test topics share 1 queries: never tune on the test split"


def test_tuning_on_part_of_the_qrels_scores_only_those_topics():
    """A dev split's topics tuned against the whole dataset's qrels: the other judged queries are not zeros."""
    from pyserini_dr.search.hybrid.tune import tune_and_test

    class Lists:  # dense prefers d2, BM25 prefers d1; each query's relevant document is d1
        def component_runs(self, topics, hits, remove_query=False):
            return ({q: [("d2", 0.9), ("d1", 0.8)] for q in topics}, {q: [("d1", 10.0), ("d2", 1.0)] for q in topics})

    qrels = {q: {"d1": 1} for q in ("dev1", "dev2", "other1", "other2", "other3", "other4")}
    points, chosen, run = tune_and_test(Lists(), {"dev1": "a", "dev2": "b"}, qrels, {"test1": "c"})
    assert [(p.alpha, p.normalization, p.score) for p in points][:2] == [(0.0, False, pytest.approx(1 / math.log2(3))),
                                                                         (0.01, False, pytest.approx(1 / math.log2(3)))]
    assert (chosen.alpha, chosen.normalization, chosen.score) == (0.02, False, 1.0)  # 0.02 x 9 > 0.1: d1 first
    assert run == {"test1": [("d1", pytest.approx(0.8 + 0.2)), ("d2", pytest.approx(0.9 + 0.02))]}


def test_tune_cli_refuses_tuning_on_the_test_split(mirror, cli, tmp_path):
    out = tmp_path / "run.trec"
    done = cli("pyserini_dr.search.hybrid.tune", "dense", "--index", tmp_path / "no-dense", "sparse", "--index",
               tmp_path / "no-lucene", "tune", "--tune-topics", "beir-v1.0.0-scifact-test", "--test-topics",
               "beir-v1.0.0-scifact-test", "--output", out)
    assert done.error_line() == "error: the tuning and test topics share 300 queries: never tune on the test split"
    assert not out.exists()


def test_tune_cli_checks_its_outputs_before_replacing_either(mirror, cli, tmp_path):
    """An unwritable --plot path is refused before any search, and an existing --output is left as it was."""
    out = tmp_path / "run.trec"
    out.write_text("the run of yesterday\n")
    blocked = tmp_path / "file"
    blocked.write_text("a file where the plot's folder should be\n")
    done = cli("pyserini_dr.search.hybrid.tune", "dense", "--index", tmp_path / "no-dense", "sparse", "--index",
               tmp_path / "no-lucene", "tune", "--tune-topics", "beir-v1.0.0-scifact-train", "--test-topics",
               "beir-v1.0.0-scifact-test", "--output", out, "--plot", blocked / "alpha.png")
    assert done.error_line() == \
        f"error: argument --plot: cannot write {blocked / 'alpha.png'}: {blocked} is not a directory"
    assert out.read_text() == "the run of yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "run.trec"]


def test_plot_writes_a_png_atomically(tmp_path):
    pytest.importorskip("matplotlib")
    from pyserini_dr.search.hybrid.tune import Point, plot

    points = [Point(a, False, 0.6 + a) for a in (0.0, 0.1, 0.2)] + [Point(a, True, 0.7 - a / 10) for a in (0.0, 1.0)]
    path = tmp_path / "plots" / "alpha.png"
    plot(points, str(path), "ndcg_cut.10", "ndcg_cut.10 against alpha")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR" and struct.unpack(">II", data[16:24]) == (1000, 400)  # 10 x 4 in at 100 dpi
    assert sorted(os.listdir(path.parent)) == ["alpha.png"]  # no temporary file left beside it


# ---- 5. the hybrid command line -----------------------------------------------------------------------------------

def hybrid_cli(cli, subset, output, *fusion_args, hits=10):
    return cli("pyserini_dr.search.hybrid", "dense", "--index", subset.dense, "sparse", "--index", subset.lucene,
               "fusion", *fusion_args, "run", "--topics", subset.cli_topics, "--output", output, "--hits", hits,
               env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, timeout=600)


@pytest.fixture(scope="session")
def cli_topics(subset):
    from pyserini_dr.data import read_topics

    topics = read_topics(subset.cli_topics)
    assert list(topics) == list(subset.test_topics)[:N_CLI]
    return topics


def test_hybrid_cli_writes_the_hybrid_run(subset, ours, cli_topics, cli, tmp_path):
    from pyserini_dr.data import write_run

    out = tmp_path / "hybrid.trec"
    done = hybrid_cli(cli, subset, out, "--alpha", "0.04")
    assert done.returncode == 0, done.stderr[-3000:]
    expected = tmp_path / "expected.trec"
    # as pyserini: both lists are searched to fusion --hits (k0, default 1000), the run keeps run --hits
    write_run(ours.batch_search(cli_topics, k0=1000, hits=10, alpha=0.04), expected, tag="pyserini-dr-hybrid")
    lines = out.read_text().splitlines()
    assert len(lines) == 10 * N_CLI
    assert lines == expected.read_text().splitlines()
    assert [line.split()[0] for line in lines[::10]] == list(cli_topics)


def test_hybrid_cli_rrf_is_the_rrf_of_the_component_runs(subset, ours, cli_topics, cli, tmp_path):
    out = tmp_path / "rrf.trec"
    done = hybrid_cli(cli, subset, out, "--method", "rrf")
    assert done.returncode == 0, done.stderr[-3000:]
    dense, sparse = ours.component_runs(cli_topics, 1000)  # fusion --hits (k0) defaults to 1000, as in pyserini
    expected = []
    for qid in cli_topics:
        scores = {}
        for run in (dense, sparse):  # 1 / (60 + rank), ranks from 1 in each list (score desc, docid asc)
            for rank, (docid, _) in enumerate(sorted(run[qid], key=lambda h: (-h[1], h[0])), 1):
                scores[docid] = scores.get(docid, 0.0) + 1 / (60 + rank)
        top = sorted(scores.items(), key=lambda h: (-h[1], h[0]))[:10]
        expected += [f"{qid} Q0 {d} {r} {s:.6f} pyserini-dr-hybrid" for r, (d, s) in enumerate(top, 1)]
    assert out.read_text().splitlines() == expected
    # a document first in both lists scores 2/61 = 0.032787
    assert sum(line.endswith(" 1 0.032787 pyserini-dr-hybrid") for line in expected) >= 1


def test_hybrid_cli_fuses_pyserini_default_depth(subset, theirs, cli_topics, cli, tmp_path):
    from pyserini_dr.data import read_run

    out = tmp_path / "hybrid.trec"
    done = hybrid_cli(cli, subset, out, "--alpha", "0.04")
    assert done.returncode == 0, done.stderr[-3000:]
    qids = list(cli_topics)
    # what `python -m pyserini.search.hybrid ... fusion --alpha 0.04 run ... --hits 10` computes
    ref = theirs.batch_search([cli_topics[q] for q in qids], qids, k0=1000, k=10, alpha=0.04)
    got = read_run(out)
    for qid in qids:
        assert_same_hits(got[qid], [(h.docid, float(h.score)) for h in ref[qid]], tol=1e-5, where=qid)
    done = hybrid_cli(cli, subset, tmp_path / "k0.trec", "--alpha", "0.04", "--hits", "100")
    assert done.returncode == 0, done.stderr


def test_hybrid_cli_normalization_with_one_hit_has_no_traceback(subset, cli, tmp_path):
    """One hit per list (fusion --hits 1): max == min, where pyserini divides by zero; such a list counts 0."""
    from pyserini_dr.search.hybrid.interpolation import hybrid

    out = tmp_path / "one.trec"
    done = hybrid_cli(cli, subset, out, "--alpha", "0.95", "--normalization", "--hits", "1", hits=1)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert hybrid([("d1", 0.9)], [("s1", 12.0)], alpha=0.95, normalization=True, hits=2) == [("d1", 0.0), ("s1", 0.0)]


def test_hybrid_cli_refusals(cli, tmp_path):
    module = "pyserini_dr.search.hybrid"
    out = tmp_path / "run.trec"
    done = cli(module, "dense", "--index", tmp_path / "d", "sparse", "--index", tmp_path / "l", "fusion",
               "--alpha", "0.04")
    assert done.error_line() == "error: missing section(s): run (usage: dense ... sparse ... fusion ... run ...)"
    done = cli(module, "--alpha", "0.04", "dense", "--index", tmp_path / "d", "sparse", "--index", tmp_path / "l",
               "run", "--topics", "t.tsv", "--output", out)
    assert done.error_line() == "error: expected a section (dense, sparse, fusion, run) before '--alpha'"
    done = cli(module, "dense", "--index", tmp_path / "d", "sparse", "--index", tmp_path / "l", "dense",
               "run", "--topics", "t.tsv", "--output", out)
    assert done.error_line() == "error: section 'dense' given twice"
    assert not out.exists()


# ---- 5. the hybrid teacher of the distillation recipes -----------------------------------------------------------

def test_hybrid_teacher_scores_each_pair_as_pyserini_hybrid_searcher(subset, encoder, theirs, cli, tmp_path):
    """Every pair gets scale x (alpha x BM25 + dense): pyserini's HybridSearcher score for a document both of its
    lists hold, whether the pair is in the teacher's BM25 top --depth or scored by Lucene alone."""
    from pyserini_dr import _pyserini
    from pyserini_dr.data.runs import read_run
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.search.lucene import BM25Searcher
    from pyserini_dr.train.hybrid_teacher import HybridTeacher

    qids = list(subset.test_topics)[:25]
    topics = {q: subset.test_topics[q] for q in qids}
    everything = len(subset.docids)
    ref = theirs.batch_search([topics[q] for q in qids], qids, k0=everything, k=everything, alpha=0.04)
    sparse = theirs.sparse_searcher.batch_search([topics[q] for q in qids], qids, everything)
    pairs, expected = {}, {}
    for q in qids:  # the hybrid's top 40 among documents BM25 matches (pyserini gives the others its minimum)
        matched = {h.docid for h in sparse[q]}
        hits = [(h.docid, float(h.score)) for h in ref[q] if h.docid in matched][:40]
        pairs[q] = [(d, 0.0) for d, _ in reversed(hits)]  # the teacher must not rely on the input order
        expected[q] = dict(hits)
    teacher = HybridTeacher(DenseIndex(str(subset.dense)), encoder, BM25Searcher(str(subset.lucene)),
                            _pyserini.lucene_index_reader(str(subset.lucene)), alpha=0.04, scale=20, depth=5)
    scored = teacher.score(topics, pairs)
    assert list(scored) == qids
    for q in qids:
        assert len(scored[q]) == len(expected[q]) == 40
        for d, s in scored[q]:
            assert s == pytest.approx(20 * expected[q][d], abs=2e-4), (q, d)
        assert [d for d, _ in scored[q]][:5] == list(expected[q])[:5], q  # the same order, ties aside

    # the command: the pairs of a run, a TREC run out; one line for a document the dense index lacks
    run = tmp_path / "run.txt"
    run.write_text("".join(f"{q} Q0 {d} {r} {40 - r} bm25\n" for q in qids for r, (d, _) in enumerate(pairs[q], 1)))
    out = tmp_path / "teacher.txt"
    args = ["--index", subset.dense, "--encoder", subset.model, "--sparse-index", subset.lucene, "--alpha", 0.04,
            "--scale", 20, "--topics", subset.cli_topics, "--run", run, "--hits", 10]
    done = cli("pyserini_dr.train.hybrid_teacher", *args, "--output", out, env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    written = read_run(out)
    cli_qids = [line.split("\t")[0] for line in subset.cli_topics.read_text().splitlines()]
    for q in (q for q in cli_qids if q in expected):
        assert {d for d, _ in written[q]} == {d for d, _ in pairs[q][:10]}
        for d, s in written[q]:
            assert s == pytest.approx(20 * expected[q][d], abs=2e-4), (q, d)
    # a pair beyond the BM25 depth whose document Lucene does not hold is refused (Anserini would score it 0)
    class NoDocuments:
        def convert_collection_docid_to_internal_docid(self, docid):
            return -1

    blind = HybridTeacher(DenseIndex(str(subset.dense)), encoder, BM25Searcher(str(subset.lucene)), NoDocuments(),
                          alpha=0.04, depth=1, sparse_dir="lucene-dir")
    with pytest.raises(InputError, match=r"^document '.+' is not in the Lucene index lucene-dir$"):
        blind.score(topics, pairs)

    run.write_text(f"{qids[0]} Q0 not-a-doc 1 1.0 bm25\n")
    assert cli("pyserini_dr.train.hybrid_teacher", *args, "--output", out, env={"HF_HUB_OFFLINE": "1"}).error_line() \
        == f"error: document 'not-a-doc' is not in the dense index {subset.dense}"
