"""Training (``pyserini_dr.train``): losses, sampling, negatives, the negatives CLI, the trainer and the recipes.

Everything runs on the CPU with a TINY random BERT (hidden 32, 2 layers) and a WordPiece vocab of the test's own
words, built from configs in a temporary directory (as tests/test_encoders.py does), over a made-up corpus of 40
documents and 16 training queries. Losses are checked against arithmetic written out here; the trainer against
independent computations (numpy on ``DenseEncoder`` vectors), against itself (resume after SIGKILL, two gloo ranks,
gradient cache, gradient accumulation), and through its saved files (train_log.jsonl, checkpoint/state.pt, model/).

Most training runs call ``python -m pyserini_dr.train``'s ``main`` in this process (torch loads once); the killed
run, the two-rank run and the one-line errors are real subprocesses.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pyserini_dr.errors import InputError
from pyserini_dr.train.batches import Group, GroupSampler, false_negative_mask
from pyserini_dr.train.examples import (TrainExample, build_examples, read_examples, split_dev, unseen_queries,
                                        write_examples)
from pyserini_dr.train.losses import contrastive, pairwise_softmax, rank_weighted_pairwise
from pyserini_dr.train.negatives import mine_run, negatives_from_ranking

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def softplus(x: float) -> float:
    return math.log(1.0 + math.exp(x))


# ==== 1. losses against hand arithmetic ==========================================================================

# B = 2 queries, G = 2 passages per group (positive, hard negative): a 2 x 4 score matrix. With q = I (d = 2) and
# p = S^T, q @ p^T is S itself, so the scores below are exactly what the loss sees.
S = [[2.0, 0.5, 1.0, -1.0],
     [0.0, 1.5, 3.0, 0.5]]
Q2 = torch.eye(2)
P_S = torch.tensor(S).T.contiguous()


def test_contrastive_is_cross_entropy_over_the_batch():
    # query 0's target is column 0, query 1's is column 2 (its group starts at 1 * G)
    row0 = math.log(math.exp(2.0) + math.exp(0.5) + math.exp(1.0) + math.exp(-1.0)) - 2.0
    row1 = math.log(math.exp(0.0) + math.exp(1.5) + math.exp(3.0) + math.exp(0.5)) - 3.0
    assert contrastive(Q2, P_S).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_contrastive_temperature_divides_the_scores():
    t = 0.5
    row0 = math.log(math.exp(2.0 / t) + math.exp(0.5 / t) + math.exp(1.0 / t) + math.exp(-1.0 / t)) - 2.0 / t
    row1 = math.log(math.exp(0.0 / t) + math.exp(1.5 / t) + math.exp(3.0 / t) + math.exp(0.5 / t)) - 3.0 / t
    assert contrastive(Q2, P_S, temperature=t).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_contrastive_false_negatives_leave_the_denominator():
    # query 0 must not be pushed away from column 2 (query 1's positive), query 1 not from column 1
    mask = torch.tensor([[False, False, True, False], [False, True, False, False]])
    row0 = math.log(math.exp(2.0) + math.exp(0.5) + math.exp(-1.0)) - 2.0
    row1 = math.log(math.exp(0.0) + math.exp(3.0) + math.exp(0.5)) - 3.0
    assert contrastive(Q2, P_S, false_negatives=mask).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    t = 2.0
    row0 = math.log(math.exp(2.0 / t) + math.exp(0.5 / t) + math.exp(-1.0 / t)) - 2.0 / t
    row1 = math.log(math.exp(0.0 / t) + math.exp(3.0 / t) + math.exp(0.5 / t)) - 3.0 / t
    assert contrastive(Q2, P_S, temperature=t, false_negatives=mask).item() == \
        pytest.approx((row0 + row1) / 2, rel=1e-6)


# STAR: q = I, so s(q_i, x) = x[i]. Positives P: s+_0 = P[0][0] = 1.0, s+_1 = P[1][1] = 2.0; in-batch
# s(q_0, P_1) = P[1][0] = 0.5, s(q_1, P_0) = P[0][1] = 0.2. Hard negatives N: s(q_0, N_k) = N[k][0] = 0.3, 1.5, 0.0;
# s(q_1, N_k) = N[k][1] = 1.0, -0.5, 2.5.
STAR_P = torch.tensor([[1.0, 0.2], [0.5, 2.0]])
STAR_N = torch.tensor([[0.3, 1.0], [1.5, -0.5], [0.0, 2.5]])


def test_pairwise_softmax_averages_every_positive_negative_pair():
    pairs = [softplus(0.5 - 1.0), softplus(0.3 - 1.0), softplus(1.5 - 1.0), softplus(0.0 - 1.0),   # query 0
             softplus(0.2 - 2.0), softplus(1.0 - 2.0), softplus(-0.5 - 2.0), softplus(2.5 - 2.0)]  # query 1
    assert pairwise_softmax(Q2, STAR_P, STAR_N).item() == pytest.approx(sum(pairs) / 8, rel=1e-6)
    # a pair is -log(e^s+ / (e^s+ + e^s-)): the same number written the other way
    two_way = -math.log(math.exp(1.0) / (math.exp(1.0) + math.exp(0.5)))
    assert two_way == pytest.approx(softplus(0.5 - 1.0), rel=1e-12)


def test_pairwise_softmax_masks_and_temperature():
    in_batch = torch.tensor([[1.0, 0.0], [1.0, 1.0]])      # query 0's in-batch "negative" P_1 is relevant to it
    hard = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])  # and so is N_2
    pairs = [softplus(0.3 - 1.0), softplus(1.5 - 1.0),
             softplus(0.2 - 2.0), softplus(1.0 - 2.0), softplus(-0.5 - 2.0), softplus(2.5 - 2.0)]
    got = pairwise_softmax(Q2, STAR_P, STAR_N, in_batch_mask=in_batch, hard_mask=hard).item()
    assert got == pytest.approx(sum(pairs) / 6, rel=1e-6)
    # the diagonal is dropped even where the mask says keep (in_batch[1][1] = 1): 6 pairs, not 7
    t = 2.0
    pairs = [softplus((0.3 - 1.0) / t), softplus((1.5 - 1.0) / t),
             softplus((0.2 - 2.0) / t), softplus((1.0 - 2.0) / t), softplus((-0.5 - 2.0) / t),
             softplus((2.5 - 2.0) / t)]
    got = pairwise_softmax(Q2, STAR_P, STAR_N, temperature=t, in_batch_mask=in_batch, hard_mask=hard).item()
    assert got == pytest.approx(sum(pairs) / 6, rel=1e-6)


def test_pairwise_softmax_without_hard_negatives_uses_the_batch_only():
    expected = (softplus(0.5 - 1.0) + softplus(0.2 - 2.0)) / 2
    assert pairwise_softmax(Q2, STAR_P, None).item() == pytest.approx(expected, rel=1e-6)
    assert pairwise_softmax(Q2, STAR_P, STAR_N[:0]).item() == pytest.approx(expected, rel=1e-6)


# ADORE on one ranked list of 4: scores 3.0, 2.5, 1.0, 0.5; ranks 2 and 4 relevant. Pairs (relevant i, irrelevant
# j): (2,1), (2,3), (4,1), (4,3), each softplus(s_j - s_i) weighted by |1/rank_i - 1/rank_j|, the sum over 4 pairs.
ADORE_S = torch.tensor([3.0, 2.5, 1.0, 0.5])
ADORE_REL = torch.tensor([False, True, False, True])


def test_rank_weighted_pairwise_with_a_metric_cut():
    # cut 3: 1/rank = 1, 1/2, 1/3, 0
    expected = (abs(1 / 2 - 1) * softplus(3.0 - 2.5) + abs(1 / 2 - 1 / 3) * softplus(1.0 - 2.5)
                + abs(0 - 1) * softplus(3.0 - 0.5) + abs(0 - 1 / 3) * softplus(1.0 - 0.5)) / 4
    assert rank_weighted_pairwise(ADORE_S, ADORE_REL, metric_cut=3).item() == pytest.approx(expected, rel=1e-6)
    # cut 1: only pairs that move the top rank count, but the division is still by all 4 pairs
    expected = (1 * softplus(3.0 - 2.5) + 0 + 1 * softplus(3.0 - 0.5) + 0) / 4
    assert rank_weighted_pairwise(ADORE_S, ADORE_REL, metric_cut=1).item() == pytest.approx(expected, rel=1e-6)


def test_rank_weighted_pairwise_without_cut_and_with_temperature():
    # no cut: 1/rank = 1, 1/2, 1/3, 1/4
    expected = (abs(1 / 2 - 1) * softplus(3.0 - 2.5) + abs(1 / 2 - 1 / 3) * softplus(1.0 - 2.5)
                + abs(1 / 4 - 1) * softplus(3.0 - 0.5) + abs(1 / 4 - 1 / 3) * softplus(1.0 - 0.5)) / 4
    assert rank_weighted_pairwise(ADORE_S, ADORE_REL, metric_cut=None).item() == pytest.approx(expected, rel=1e-6)
    t = 0.5
    expected = (abs(1 / 2 - 1) * softplus((3.0 - 2.5) / t) + abs(1 / 2 - 1 / 3) * softplus((1.0 - 2.5) / t)
                + abs(1 / 4 - 1) * softplus((3.0 - 0.5) / t) + abs(1 / 4 - 1 / 3) * softplus((1.0 - 0.5) / t)) / 4
    assert rank_weighted_pairwise(ADORE_S, ADORE_REL, metric_cut=None, temperature=t).item() == \
        pytest.approx(expected, rel=1e-6)


def test_rank_weighted_pairwise_pushes_relevant_documents_up():
    s = ADORE_S.clone().requires_grad_()
    rank_weighted_pairwise(s, ADORE_REL, metric_cut=3).backward()
    assert (s.grad[ADORE_REL] < 0).all() and (s.grad[~ADORE_REL] > 0).all()
    # no relevant (or no irrelevant) document: no pair, loss 0
    assert rank_weighted_pairwise(ADORE_S, torch.zeros(4, dtype=torch.bool)).item() == 0.0
    assert rank_weighted_pairwise(ADORE_S, torch.ones(4, dtype=torch.bool)).item() == 0.0


# ==== 2. false-negative mask and the group sampler ===============================================================

def test_false_negative_mask_by_hand():
    groups = [Group("q0", "", "a", ["b"]), Group("q1", "", "b", ["c"]), Group("q2", "", "c", ["a"])]
    positives = {"q0": {"a", "b"}, "q1": {"b"}, "q2": {"c", "a"}}
    # passage columns: a b | b c | c a (each group: positive, negative)
    T, F = True, False
    expected = [[F, T, T, F, F, T],   # q0: its own target a stays; b (twice) and the last a are relevant
                [F, T, F, F, F, F],   # q1: q0's hard negative b is q1's positive; its own target b (col 2) stays
                [T, F, F, T, F, T]]   # q2: a and the other c are relevant; target c (col 4) stays
    assert false_negative_mask(groups, positives, "cpu").tolist() == expected
    expected = [[F, T, T, T, T, T],   # without in-batch negatives every other group's column is masked too
                [T, T, F, F, T, T],
                [T, T, T, T, F, T]]
    assert false_negative_mask(groups, positives, "cpu", in_batch=False).tolist() == expected


def _sampler_examples(n: int = 10) -> tuple[list[TrainExample], list[str]]:
    corpus = [f"d{i}" for i in range(30)]
    examples = [TrainExample(f"q{i}", f"query {i}", [f"d{i}", f"d{i + 10}"],
                             [f"d{(i + k) % 30}" for k in (3, 5, 7, 9, 11)]) for i in range(n)]
    return examples, corpus


def test_group_sampler_is_a_function_of_seed_and_epoch():
    examples, corpus = _sampler_examples()
    a = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=11)
    b = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=11)
    assert a.batches_per_epoch() == 2  # 10 // 4: the partial batch is dropped
    keys = [(e, i) for e in range(3) for i in range(2)]
    forward = {k: a.batch(*k) for k in keys}
    backward = {k: b.batch(*k) for k in reversed(keys)}
    assert forward == backward
    assert a.batch(1, 0) == forward[(1, 0)]  # asking again changes nothing
    for e in range(3):  # an epoch's batches are distinct queries
        ids = [g.query_id for i in range(2) for g in forward[(e, i)]]
        assert len(set(ids)) == 8
    assert len({tuple(g.query_id for g in forward[(e, 0)]) for e in range(3)}) > 1  # epochs reshuffle
    other = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=12)
    assert [other.batch(*k) for k in keys] != [forward[k] for k in keys]
    # a group depends on (seed, epoch, query) only, not on the batch it lands in
    by_query = {g.query_id: g for i in range(2) for g in forward[(0, i)]}
    small = GroupSampler(examples, corpus, negatives=3, batch_size=2, seed=11)
    for i in range(5):
        for g in small.batch(0, i):
            if g.query_id in by_query:
                assert g == by_query[g.query_id]


def test_group_sampler_negatives_come_from_the_pool_and_never_a_positive():
    examples, corpus = _sampler_examples()
    sampler = GroupSampler(examples, corpus, negatives=3, batch_size=5, seed=3)
    by_id = {ex.query_id: ex for ex in examples}
    seen_positives = set()
    for epoch in range(20):
        for index in range(2):
            for g in sampler.batch(epoch, index):
                ex = by_id[g.query_id]
                assert g.query == ex.query
                assert g.positive in ex.positives
                seen_positives.add((g.query_id, g.positive))
                assert len(g.negatives) == 3 == len(set(g.negatives))
                assert set(g.negatives) <= set(ex.negatives)
                assert not set(g.negatives) & set(ex.positives)
    assert len(seen_positives) == 20  # both positives of every query get drawn over the epochs
    # a recipe replacing the pools (ANCE's refresh) changes what is drawn
    sampler.pools = {ex.query_id: ["d29", "d28", "d27"] for ex in examples}
    assert all(sorted(g.negatives) == ["d27", "d28", "d29"] for g in sampler.batch(0, 0))


def test_group_sampler_tops_up_a_short_pool_with_corpus_documents_that_are_not_positives():
    corpus = [f"d{i}" for i in range(30)]
    positives = [f"d{i}" for i in range(20)]  # most of the corpus is relevant: a careless top-up would hit one
    examples = [TrainExample("q0", "q", positives, ["d25"]), TrainExample("q1", "r", ["d0"], [])]
    sampler = GroupSampler(examples, corpus, negatives=4, batch_size=2, seed=0)
    topped = set()
    for epoch in range(30):
        groups = {g.query_id: g for g in sampler.batch(epoch, 0)}
        negs = groups["q0"].negatives
        assert len(negs) == 4 == len(set(negs))
        assert negs[0] == "d25"  # the pool first, then the top-up
        assert not set(negs) & set(positives)
        topped |= set(negs[1:])
        assert len(groups["q1"].negatives) == 4 and "d0" not in groups["q1"].negatives
    assert topped <= {f"d{i}" for i in range(20, 30)} - {"d25"} and len(topped) > 3  # random, not fixed


def test_group_sampler_never_draws_a_positive_listed_in_the_pool():
    examples = [TrainExample("q0", "q", ["a"], ["a", "b", "c"])]
    drawn = set()
    for seed in range(10):
        drawn |= set(GroupSampler(examples, ["a", "b", "c", "d"], negatives=2, batch_size=1, seed=seed)
                     .batch(0, 0)[0].negatives)
    assert "a" not in drawn


# ==== 3. negatives from a ranking, training examples, dev split, unseen queries ================================

RANKING = [f"d{i}" for i in range(1, 11)]  # d1 best ... d10


def test_negatives_from_ranking_depth_skip_and_exclusions():
    assert negatives_from_ranking(RANKING, {"d2"}, depth=5) == ["d1", "d3", "d4", "d5"]
    # skip counts from the top: ranks skip+1 .. depth
    assert negatives_from_ranking(RANKING, {"d2"}, depth=5, skip=2) == ["d3", "d4", "d5"]
    assert negatives_from_ranking(RANKING, {"d2", "d4"}, depth=6, skip=1, exclude={"d6"}) == ["d3", "d5"]
    assert negatives_from_ranking(RANKING, set(), depth=50) == RANKING
    assert negatives_from_ranking(RANKING, set(), depth=3, skip=3) == []


def test_negatives_from_ranking_sampling_is_seeded_and_keeps_rank_order():
    pool = negatives_from_ranking(RANKING, {"d2"}, depth=10)
    draws = [negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=3, rng=random.Random(s)) for s in range(8)]
    for d in draws:
        assert len(d) == 3 and "d2" not in d
        assert d == [x for x in pool if x in d]  # a subsequence: rank order kept
    assert draws[5] == negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=3, rng=random.Random(5))
    assert len({tuple(d) for d in draws}) > 1
    # without an rng the draw is still fixed; a sample larger than the pool keeps it all
    assert negatives_from_ranking(RANKING, set(), depth=10, sample=4) == \
        negatives_from_ranking(RANKING, set(), depth=10, sample=4)
    assert negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=20) == pool


def _run(ranking: dict[str, list[str]]) -> dict:
    return {q: [(d, 10.0 - i) for i, d in enumerate(docs)] for q, docs in ranking.items()}


def test_mine_run():
    run = _run({"q1": ["d1", "q1", "d2", "d3", "d4", "d5"], "q2": ["d9", "d8", "q2", "d7", "d6", "d5"]})
    qrels = {"q1": {"d2": 1, "d3": 0}, "q2": {"d9": 2}}
    assert mine_run(run, qrels, depth=4) == {"q1": ["d1", "q1", "d3"], "q2": ["d8", "q2", "d7"]}
    assert mine_run(run, qrels, depth=4, exclude_query_id=True) == {"q1": ["d1", "d3"], "q2": ["d8", "d7"]}
    assert mine_run(run, qrels, depth=5, skip=1, exclude_query_id=True) == {"q1": ["d3", "d4"],
                                                                             "q2": ["d8", "d7", "d6"]}
    # sampling is per query: the same negatives whatever the order of the run's queries
    a = mine_run(run, qrels, depth=6, sample=2, seed=4)
    b = mine_run(dict(reversed(list(run.items()))), qrels, depth=6, sample=2, seed=4)
    assert a == b and all(len(v) == 2 for v in a.values())
    assert not set(a["q1"]) & {"d2"} and not set(a["q2"]) & {"d9"}
    assert len({json.dumps(mine_run(run, qrels, depth=6, sample=2, seed=s)) for s in range(6)}) > 1


def test_build_examples_never_keeps_a_judged_positive_as_negative():
    topics = {"q1": "first", "q2": "second", "q3": "unjudged", "q4": "nothing relevant"}
    qrels = {"q1": {"d1": 1, "d2": 0, "d3": 2}, "q2": {"d5": 1}, "q4": {"d6": 0}}
    negatives = {"q1": ["d3", "d2", "d4", "d1"], "q2": ["d6", "d5"], "q3": ["d7"]}
    examples = build_examples(topics, qrels, negatives)
    assert [e.to_json() for e in examples] == [
        {"query_id": "q1", "query_text": "first", "positive_document_ids": ["d1", "d3"],
         "negative_document_ids": ["d2", "d4"]},   # judged non-relevant d2 is a fine negative
        {"query_id": "q2", "query_text": "second", "positive_document_ids": ["d5"], "negative_document_ids": ["d6"]},
    ]
    assert [e.negatives for e in build_examples(topics, qrels)] == [[], []]
    with pytest.raises(InputError, match="no training query"):
        build_examples({"q4": "x"}, qrels)


def test_write_and_read_examples_round_trip(tmp_path):
    examples = [TrainExample("q1", "caf\u00e9 query", ["d1"], ["d2", "d3"]), TrainExample("7", "x", ["d4", "d5"])]
    write_examples(examples, tmp_path / "t.jsonl")
    assert read_examples(tmp_path / "t.jsonl") == examples
    (tmp_path / "bad.jsonl").write_text('{"query_id": "q", "query_text": "x", "positive_document_ids": []}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        read_examples(tmp_path / "bad.jsonl")


def test_split_dev_is_deterministic_and_order_free():
    examples = [TrainExample(f"q{i}", f"t{i}", [f"d{i}"]) for i in range(200)]
    train, dev = split_dev(examples, 0.25)
    train2, dev2 = split_dev(list(reversed(examples)), 0.25)
    assert {e.query_id for e in dev} == {e.query_id for e in dev2}
    assert {e.query_id for e in train} == {e.query_id for e in train2}
    assert {e.query_id for e in train} | {e.query_id for e in dev} == {e.query_id for e in examples}
    assert not {e.query_id for e in train} & {e.query_id for e in dev}
    assert 25 <= len(dev) <= 75  # a hash split, about a quarter
    assert [e.query_id for e in train] == [e.query_id for e in examples if e in train]  # file order kept
    small, _ = split_dev(examples, 0.1)
    assert {e.query_id for e in split_dev(examples, 0.1)[1]} <= {e.query_id for e in dev}  # nested by fraction
    assert len(small) > len(train)
    assert split_dev(examples, 0.0) == (examples, [])
    for bad in (1.0, -0.1):
        with pytest.raises(InputError, match="dev fraction"):
            split_dev(examples, bad)


def test_unseen_queries():
    train = {"t1": {"a": 1, "b": 0}, "t2": {"c": 2}}
    test = {"x": {"a": 1, "d": 1},   # a is a train positive: seen
            "y": {"b": 1},           # b was judged in train but not relevant: unseen
            "z": {"e": 0},           # nothing relevant: not a test query at all
            "w": {"d": 1, "e": 2, "c": 0},  # c is a train positive but not relevant here: unseen
            "v": {"c": 1}}
    assert unseen_queries(test, train) == {"y", "w"}


# ==== 4. the negatives command line ==============================================================================

def _negatives_inputs(tmp_path: Path) -> SimpleNamespace:
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\taspirin for fever\nq2\tibuprofen bleeding\nq3\tno positive judged\n", encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq1 0 d3 0\nq2 0 d2 2\nq2 0 d4 1\nq3 0 d5 0\n")
    run = tmp_path / "run.trec"
    rows = {"q1": ["d3", "d1", "d6", "d7", "d8"], "q2": ["d4", "d5", "d2", "d9", "d6"], "q3": ["d5", "d1"]}
    run.write_text("".join(f"{q} Q0 {d} {r} {10 - r}.5 bm25\n" for q, docs in rows.items()
                           for r, d in enumerate(docs, 1)))
    return SimpleNamespace(topics=topics, qrels=qrels, run=run)


def test_negatives_cli_writes_the_training_file(cli, tmp_path):
    inp = _negatives_inputs(tmp_path)
    out = tmp_path / "train.jsonl"
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 3, "--output", out)
    assert res.returncode == 0, res.stderr
    # q1's top 3 are d3 d1 d6: d1 is relevant, d3 judged non-relevant (kept); q2's are d4 d5 d2; q3 has no positive
    expected = [
        {"query_id": "q1", "query_text": "aspirin for fever", "positive_document_ids": ["d1"],
         "negative_document_ids": ["d3", "d6"]},
        {"query_id": "q2", "query_text": "ibuprofen bleeding", "positive_document_ids": ["d2", "d4"],
         "negative_document_ids": ["d5"]},
    ]
    assert out.read_text(encoding="utf-8") == "".join(json.dumps(e) + "\n" for e in expected)
    assert "wrote 2 training queries (3 negatives, 1.5 per query)" in res.stderr

    # --skip 1 --depth 4: ranks 2..4
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 4, "--skip", 1, "--output", out)
    assert res.returncode == 0, res.stderr
    negatives = [json.loads(x)["negative_document_ids"] for x in out.read_text().splitlines()]
    assert negatives == [["d6", "d7"], ["d5", "d9"]]

    # a dev split goes to its own file; together the two files hold every training query once
    dev = tmp_path / "dev.jsonl"
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 3, "--output", out, "--dev-fraction", 0.5, "--dev-output", dev)
    assert res.returncode == 0, res.stderr
    train_part = read_examples(out) if out.read_text() else []
    dev_part = read_examples(dev) if dev.read_text() else []
    expected_train, expected_dev = split_dev([TrainExample(e["query_id"], e["query_text"],
                                                           e["positive_document_ids"], e["negative_document_ids"])
                                              for e in expected], 0.5)
    assert (train_part, dev_part) == (expected_train, expected_dev)


def test_negatives_cli_bad_input(cli, tmp_path):
    inp = _negatives_inputs(tmp_path)
    out = tmp_path / "train.jsonl"
    bad_run = tmp_path / "bad.run"
    bad_run.write_text("q1 Q0 d3 1 9.5 bm25\nq1 Q0 d1 2\n")
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", bad_run,
               "--depth", 3, "--output", out).error_line()
    assert f"{bad_run}:2" in line and "found 4" in line
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
               "--output", out, "--dev-fraction", 0.2).error_line()
    assert line == "error: --dev-fraction needs --dev-output"
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
               "--depth", 0, "--output", out).error_line()
    assert "--depth" in line
    assert not out.exists()


# ==== the tiny training setup ====================================================================================

WORDS = ("aspirin fever pain adults children dose heart blood pressure stomach bleeding ibuprofen liver kidney "
         "cancer tumor cell gene protein virus vaccine immune response infection bacteria antibiotic resistance "
         "diet sugar insulin diabetes obesity exercise sleep brain memory stress anxiety depression therapy trial "
         "placebo effect risk study patients women men age bone vitamin calcium").split()
N_DOCS, N_QUERIES = 40, 16
SEED = "7"


def _tokenizer(workdir: Path):
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(str(workdir / "vocab.txt"), do_lower_case=True)  # positional: transformers 4 and 5


def _save_tiny_bert(path: Path, tok, *, dropout: float) -> None:
    from transformers import BertConfig, BertModel

    from pyserini_dr.encode import EncoderSettings

    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2,
                        pad_token_id=0, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)  # the same weights for both dropout settings
    BertModel(config).save_pretrained(path)  # with its (unused) pooler: no weight left to a random init
    tok.save_pretrained(path)
    # saved settings: no guessing the family from the (temporary) path; short max lengths keep it fast
    settings = EncoderSettings(query_max_length=16, passage_max_length=32).to_dict()
    (path / "encoder_settings.json").write_text(json.dumps(settings))


@pytest.fixture(scope="session")
def setup(tmp_path_factory) -> SimpleNamespace:
    """corpus.jsonl (40 documents, some without title), train.jsonl (16 queries, 1-2 positives, up to 6 hand-made
    'BM25' negatives; query 1 shares query 0's positive d00) and two tiny BERTs with the same weights: one with
    dropout 0.1, one with dropout 0."""
    root = tmp_path_factory.mktemp("tiny-train")
    rng = random.Random(0)
    corpus = {}
    for i in range(N_DOCS):
        title = " ".join(rng.sample(WORDS, 2)) if i % 3 else ""
        corpus[f"d{i:02d}"] = (title, " ".join(rng.choices(WORDS, k=rng.randint(8, 20))))
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n"
                                               for d, (t, x) in corpus.items()), encoding="utf-8")
    topics, qrels = {}, {}
    for i in range(N_QUERIES):
        qid = f"q{i:02d}"
        positives = [f"d{2 * i:02d}"] + ([f"d{2 * i + 1:02d}"] if i % 3 == 0 else [])
        if i == 1:
            positives.append("d00")
        topics[qid] = " ".join(rng.sample(corpus[positives[0]][1].split(), 3) + [rng.choice(WORDS)])
        qrels[qid] = {**{d: 1 for d in positives}, f"d{(2 * i + 7) % N_DOCS:02d}": 0}
    negatives = {q: rng.sample(sorted(corpus), 6) for q in topics}  # build_examples drops the positives among them
    examples = build_examples(topics, qrels, negatives)
    assert all(not set(e.negatives) & set(e.positives) for e in examples)
    write_examples(examples, root / "train.jsonl")
    tok = _tokenizer(root / "vocab")
    assert tok.unk_token_id not in tok(" ".join(WORDS))["input_ids"]
    _save_tiny_bert(root / "tiny", tok, dropout=0.1)
    _save_tiny_bert(root / "tiny-nodrop", tok, dropout=0.0)
    return SimpleNamespace(root=root, corpus=corpus, corpus_file=root / "corpus.jsonl", topics=topics, qrels=qrels,
                           examples=examples, train=root / "train.jsonl", model=root / "tiny",
                           model_nodrop=root / "tiny-nodrop")


def train_argv(setup, out, *extra, model=None, recipe="warmup") -> list[str]:
    return ["--recipe", recipe, "--model", str(model or setup.model_nodrop), "--train-data", str(setup.train),
            "--corpus", str(setup.corpus_file), "--output", str(out), "--device", "cpu", "--seed", SEED,
            "--lr", "1e-3", "--warmup-ratio", "0", "--log-every", "1", *map(str, extra)]


@contextlib.contextmanager
def capture_first_gradients():
    """Records the summed (all ranks) gradients of the first optimizer step, by parameter name."""
    from pyserini_dr.train.trainer import Trainer

    grads: dict = {}
    original = Trainer._sync_gradients

    def sync(self):
        original(self)
        if self.step == 0:
            grads.update({n: p.grad.detach().clone() for n, p in self.model.named_parameters()
                          if p.grad is not None})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "_sync_gradients", sync)
        yield grads


def train_here(argv) -> None:
    from pyserini_dr.train.__main__ import main

    assert main(argv) == 0


def read_log(out: Path) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in (Path(out) / "train_log.jsonl").read_text().splitlines()]
    assert "summary" in lines[-1] and all("summary" not in x for x in lines[:-1])
    return lines[:-1], lines[-1]["summary"]


def losses(out: Path) -> list[float]:
    records, _ = read_log(out)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    return [r["loss"] for r in records]


def weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


def assert_same_weights(a: dict, b: dict, **tol) -> None:
    assert sorted(a) == sorted(b)
    bad = [k for k in a if not torch.allclose(a[k], b[k], **tol)]
    assert not bad, bad


def assert_same_function(setup, model_a: Path, model_b: Path) -> None:
    """Two trained models give the same query and passage vectors. Runs that differ in how the work is split (ranks,
    chunks, micro-batches) round differently; where the true gradient is zero (an attention key bias: softmax ignores
    a shift of all scores) AdamW turns that rounding into lr-sized steps, so weights are compared through what they
    compute, not element by element."""
    from pyserini_dr.encode import DenseEncoder

    a, b = DenseEncoder(model_a), DenseEncoder(model_b)
    passages = list(setup.corpus.values())
    queries = list(setup.topics.values())
    np.testing.assert_allclose(a.encode_passages(passages), b.encode_passages(passages), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.encode_queries(queries), b.encode_queries(queries), rtol=1e-4, atol=1e-4)


def assert_close_grads(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b) and a
    scale = max(float(g.abs().max()) for g in a.values())
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5 * scale, msg=k)


def stderr_summary(err: str) -> dict:
    lines = [x for x in err.splitlines() if x.startswith("{")]
    assert len(lines) == 1, err
    return json.loads(lines[0])


def first_batch(setup, batch_size: int, negatives: int, pools: dict | None = None):
    sampler = GroupSampler(read_examples(setup.train), list(setup.corpus), negatives=negatives,
                           batch_size=batch_size, seed=int(SEED))
    if pools is not None:
        sampler.pools = pools
    return sampler.batch(0, 0), sampler.positives


@pytest.fixture(scope="session")
def vectors(setup):
    """The starting (dropout 0) model's query and passage vectors, by DenseEncoder (no training code)."""
    from pyserini_dr.encode import DenseEncoder

    enc = DenseEncoder(setup.model_nodrop)
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids]).astype(np.float64)
    queries = {q: v for q, v in zip(setup.topics, enc.encode_queries(list(setup.topics.values())).astype(np.float64))}
    return SimpleNamespace(ids=ids, docs=docs, queries=queries, index={d: i for i, d in enumerate(ids)})


def exact_pools(vectors, positives: dict[str, set], depth: int) -> dict[str, list[str]]:
    pools = {}
    for qid, rel in positives.items():
        order = np.argsort(-(vectors.docs @ vectors.queries[qid]), kind="stable")[:depth]
        pools[qid] = [vectors.ids[j] for j in order if vectors.ids[j] not in rel]
    return pools


# ==== 5. exact resume after SIGKILL ==============================================================================

KILLER = """
import os, signal, sys
from pyserini_dr.train import trainer as T

original = T.Trainer.log

def log(self, name, record):
    original(self, name, record)
    if record.get("step") == {kill_at} and "loss" in record:
        os.kill(os.getpid(), signal.SIGKILL)  # as a crash would: no cleanup, nothing flushed after this line

T.Trainer.log = log
from pyserini_dr.cli import run_main
from pyserini_dr.train.__main__ import main
run_main(main, sys.argv[1:])
"""


def test_resume_after_sigkill_is_exact(setup, tmp_path, capsys):
    # Dropout is on here (the 0.1 model): the resumed run must also restore the RNG for its dropout masks.
    # 16 queries / 4 = 4 steps an epoch; 2 epochs cut at 7 steps; checkpoints at steps 2, 4, 6 and 7.
    # The first run SIGKILLs itself right after logging step 3, a step after the step-2 checkpoint: killing it
    # from outside when a checkpoint appears races a run this small (it finishes in well under a second), this
    # kills it at a known point. Rerunning the same command resumes mid-epoch 0 and must replay steps 3..7.
    common = ("--epochs", 2, "--max-steps", 7, "--save-every", 2, "--batch-size", 4, "--negatives", 1)
    killed = tmp_path / "killed"
    argv = train_argv(setup, killed, *common, model=setup.model)
    script = tmp_path / "killer.py"
    script.write_text(KILLER.replace("{kill_at}", "3"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    state = torch.load(killed / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 2
    assert state["recipe"] == {}  # warmup's negatives are the training file's: read again, not checkpointed
    assert [json.loads(x)["step"] for x in (killed / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert not (killed / "model").exists()

    train_here(argv)  # the same command again
    assert "resumed from step 2 of 7" in capsys.readouterr().err

    straight = tmp_path / "straight"
    train_here(train_argv(setup, straight, *common, model=setup.model))
    capsys.readouterr()
    expected, resumed = losses(straight), losses(killed)
    assert len(expected) == 7 and len(set(expected)) == 7  # the loss moves: a replay with other data would show
    assert resumed == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert [r["lr"] for r in read_log(killed)[0]] == pytest.approx([r["lr"] for r in read_log(straight)[0]])
    assert read_log(killed)[1]["steps"] == read_log(straight)[1]["steps"] == 7
    # every weight whose true gradient is not zero agrees; the attention key biases (zero gradient, AdamW-amplified
    # rounding, see assert_same_function) are compared through what the models compute
    key_bias = lambda w: {k: v for k, v in w.items() if not k.endswith("attention.self.key.bias")}  # noqa: E731
    assert_same_weights(key_bias(weights(killed / "model")), key_bias(weights(straight / "model")))
    assert_same_function(setup, killed / "model", straight / "model")
    start = weights(setup.model)
    assert not torch.allclose(weights(straight / "model")["encoder.layer.0.attention.self.query.weight"],
                              start["encoder.layer.0.attention.self.query.weight"])


# ==== 6. two gloo ranks = one process with the whole batch =======================================================

DDP_PROBE = """
import json, os, sys, torch
from pyserini_dr.train import trainer as T

original = T.Trainer._sync_gradients

def sync(self):
    original(self)
    if self.step == 0:
        torch.save({n: p.grad.detach().clone() for n, p in self.model.named_parameters() if p.grad is not None},
                   os.path.join(os.environ["GRAD_DIR"], f"grads{self.rank}.pt"))

T.Trainer._sync_gradients = sync
from pyserini_dr.train.__main__ import main
rc = main(sys.argv[1:])
left = torch.distributed.is_initialized()
with open(os.path.join(os.environ["GRAD_DIR"], f"left{os.environ['RANK']}.json"), "w") as f:
    json.dump(left, f)
if left:
    # What main leaves undone: without it gloo's worker threads can abort the process at interpreter exit
    # (SIGABRT, "terminate called without an active exception"; pytorch/pytorch#190489), failing torchrun at random.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
sys.exit(rc)
"""

# 16 queries, 8 a batch, 2 epochs: 4 steps. Dropout is 0 in this model: each rank draws its own dropout masks for
# its half of the batch, which one process drawing for the whole batch cannot reproduce.
WHOLE_BATCH = ("--batch-size", 8, "--negatives", 1, "--epochs", 2)


@pytest.fixture(scope="module")
def one_process(setup, tmp_path_factory):
    """The reference: warmup on the dropout-0 model, 8 queries a batch, one process; its first gradients."""
    out = tmp_path_factory.mktemp("one-process")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("PYSERINI_DR_QUIET", "1")
        with capture_first_gradients() as grads:
            train_here(train_argv(setup, out, *WHOLE_BATCH))
    return SimpleNamespace(out=out, losses=losses(out), grads=grads)


def test_warmup_first_loss_matches_an_independent_computation(setup, one_process, vectors):
    """Step 1's logged loss: the starting model's in-batch softmax over the first batch, computed here in numpy."""
    groups, positives = first_batch(setup, 8, 1)
    docs = [d for g in groups for d in (g.positive, g.negatives[0])]
    q = np.stack([vectors.queries[g.query_id] for g in groups])
    p = vectors.docs[[vectors.index[d] for d in docs]]
    scores = q @ p.T
    total = 0.0
    for i, g in enumerate(groups):  # another passage relevant to the query is no negative (false-negative mask)
        keep = [j for j, d in enumerate(docs) if j == 2 * i or d not in positives[g.query_id]]
        total += math.log(sum(math.exp(scores[i, j]) for j in keep)) - scores[i, 2 * i]
    assert one_process.losses[0] == pytest.approx(total / len(groups), rel=1e-5)


@pytest.fixture(scope="module")
def two_ranks(setup, tmp_path_factory):
    """The same training under torchrun: two gloo processes on the CPU, 4 queries each."""
    workdir = tmp_path_factory.mktemp("two-ranks")
    out = workdir / "ddp"
    script = workdir / "ddp_probe.py"
    script.write_text(DDP_PROBE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYSERINI_DR_BACKEND": "gloo", "GRAD_DIR": str(workdir),
           "HF_HUB_OFFLINE": "1", "PYSERINI_DR_QUIET": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
           *train_argv(setup, out, *WHOLE_BATCH)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return SimpleNamespace(out=out, stderr=done.stderr, grads=[torch.load(workdir / f"grads{r}.pt") for r in (0, 1)],
                           left_initialized=[json.loads((workdir / f"left{r}.json").read_text()) for r in (0, 1)])


def test_two_gloo_ranks_match_one_process(setup, one_process, two_ranks):
    two = losses(two_ranks.out)
    assert len(two) == len(one_process.losses) == 4
    assert max(one_process.losses) - min(one_process.losses) > 1e-3  # later steps depend on earlier updates
    assert two == pytest.approx(one_process.losses, rel=1e-5)
    # the all-reduced gradient of step 1 is the whole batch's, on both ranks
    assert_close_grads(one_process.grads, two_ranks.grads[0])
    assert_close_grads(two_ranks.grads[0], two_ranks.grads[1])
    assert_same_function(setup, two_ranks.out / "model", one_process.out / "model")
    assert stderr_summary(two_ranks.stderr)["steps"] == 4  # printed once (rank 0), not per rank


def test_training_leaves_no_process_group_behind(two_ranks):
    assert two_ranks.left_initialized == [False, False]


# ==== 7. recipes, gradient cache, accumulation ===================================================================

def test_gradient_cache_gives_the_same_training(setup, one_process, tmp_path):
    out = tmp_path / "cached"
    with capture_first_gradients() as grads:  # chunks of 3, 3 and 2 queries (with their passages)
        train_here(train_argv(setup, out, *WHOLE_BATCH, "--grad-cache-chunk", 3))
    assert losses(out) == pytest.approx(one_process.losses, rel=1e-5)
    assert_close_grads(one_process.grads, grads)
    assert_same_function(setup, out / "model", one_process.out / "model")


def test_gradient_accumulation_equals_the_whole_batch_without_in_batch_negatives(setup, tmp_path):
    # Without in-batch negatives a query's loss involves its own group only, so two micro-batches of 4 averaged
    # are exactly one batch of 8 (the sampler's order doesn't depend on the batch size).
    whole, accum = tmp_path / "whole", tmp_path / "accum"
    with capture_first_gradients() as g_whole:
        train_here(train_argv(setup, whole, "--batch-size", 8, "--negatives", 2, "--epochs", 2, "--no-in-batch"))
    with capture_first_gradients() as g_accum:
        train_here(train_argv(setup, accum, "--batch-size", 4, "--grad-accum", 2, "--negatives", 2, "--epochs", 2,
                              "--no-in-batch"))
    assert read_log(accum)[1]["steps"] == 4  # 16 // 4 // 2 steps an epoch
    assert losses(accum) == pytest.approx(losses(whole), rel=1e-5)
    assert_close_grads(g_whole, g_accum)
    assert_same_function(setup, accum / "model", whole / "model")


def test_ance_refreshes_from_its_own_index(setup, vectors, tmp_path, capsys):
    from pyserini_dr.train.recipes import ANCE

    out = tmp_path / "ance"
    refreshed = []
    original = ANCE._refresh_now

    def refresh(self, model, docs=None):
        original(self, model, docs)
        refreshed.append({q: list(v) for q, v in self.sampler.pools.items()})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ANCE, "_refresh_now", refresh)
        train_here(train_argv(setup, out, "--batch-size", 4, "--negatives", 2, "--max-steps", 3,
                              "--refresh-every", 2, "--depth", 5, recipe="ance"))
    summary = stderr_summary(capsys.readouterr().err)
    assert summary["refreshes"] == 2 == len(refreshed)  # the starting model's index, then before step 3
    assert summary["steps"] == 3 and 0 < summary["refresh_share"] <= 1
    assert read_log(out)[1] == summary
    positives = {e.query_id: set(e.positives) for e in setup.examples}
    # the first index is the starting model's: its exact top 5, positives removed
    assert refreshed[0] == exact_pools(vectors, positives, 5)
    state = torch.load(out / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    assert state["recipe"]["pools"] == refreshed[1]  # the last refresh is what a resumed run would train on
    for qid, pool in refreshed[1].items():
        assert not set(pool) & positives[qid] and 5 - len(positives[qid]) <= len(pool) <= 5
    assert len(losses(out)) == 3


def test_ance_refresh_at_an_evaluated_epoch_end_reuses_the_evaluation_vectors(setup, tmp_path, monkeypatch):
    """Both due after step 4 (16 queries in batches of 4: one epoch): the refresh ranks the dev evaluation's corpus
    vectors (the same weights) instead of encoding the corpus again, and trains exactly as a run without dev data."""
    from pyserini_dr.encode.corpus import CorpusEncoder

    encoded = []
    real = CorpusEncoder.encode_pairs
    monkeypatch.setattr(CorpusEncoder, "encode_pairs",
                        lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    dev = tmp_path / "dev.jsonl"
    write_examples(read_examples(setup.train)[:6], dev)
    args = ("--batch-size", 4, "--negatives", 2, "--max-steps", 8, "--depth", 5)
    train_here(train_argv(setup, tmp_path / "plain", *args, recipe="ance"))
    assert len(encoded) == 2  # the start's index, the refresh before step 5
    encoded.clear()
    train_here(train_argv(setup, tmp_path / "dev", *args, "--dev-data", dev, recipe="ance"))
    assert len(encoded) == 3  # the start's, the evaluation after step 4 (reused by the refresh), after step 8
    assert len(list((tmp_path / "dev" / "dev_runs").iterdir())) == 2
    assert losses(tmp_path / "dev") == losses(tmp_path / "plain")
    state = [torch.load(tmp_path / run / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
             for run in ("plain", "dev")]
    assert state[0]["recipe"]["pools"] == state[1]["recipe"]["pools"]


def test_star_mines_once_from_the_starting_model(setup, vectors, tmp_path, capsys):
    out = tmp_path / "star"
    train_here(train_argv(setup, out, "--batch-size", 4, "--negatives", 2, "--max-steps", 2, "--depth", 6,
                          recipe="star"))
    assert stderr_summary(capsys.readouterr().err)["steps"] == 2
    positives = {e.query_id: set(e.positives) for e in setup.examples}
    state = torch.load(out / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    pools = state["recipe"]["pools"]
    assert pools == exact_pools(vectors, positives, 6)
    assert all(not set(pools[q]) & positives[q] for q in pools)

    # step 1's loss: DRhard's pairwise loss over the first batch, with the starting model's vectors, in numpy
    groups, _ = first_batch(setup, 4, 2, pools)
    q = {g.query_id: vectors.queries[g.query_id] for g in groups}
    vec = lambda d: vectors.docs[vectors.index[d]]  # noqa: E731
    terms = []
    for g in groups:
        s_pos = q[g.query_id] @ vec(g.positive)
        others = [h.positive for h in groups if h is not g] + [d for h in groups for d in h.negatives]
        for d in others:
            if d not in positives[g.query_id]:
                terms.append(math.log1p(math.exp(q[g.query_id] @ vec(d) - s_pos)))
    assert losses(out)[0] == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_adore_trains_the_query_tower_only(setup, vectors, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder

    out = tmp_path / "adore"
    train_here(train_argv(setup, out, "--batch-size", 4, "--max-steps", 2, "--retrieve-depth", 10,
                          "--metric-cut", 5, recipe="adore"))
    assert stderr_summary(capsys.readouterr().err)["steps"] == 2
    model = out / "model"
    for sub in ("", "query_encoder", "passage_encoder"):
        saved = json.loads((model / sub / "encoder_settings.json").read_text())
        assert saved == json.loads((setup.model_nodrop / "encoder_settings.json").read_text())
    start = weights(setup.model_nodrop)
    assert_same_weights(weights(model / "passage_encoder"), start, rtol=0, atol=0)
    query = weights(model / "query_encoder")
    assert sorted(query) == sorted(start)
    assert any(not torch.equal(query[k], start[k]) for k in start)

    enc = DenseEncoder(model)
    assert enc.passage_model is not enc.query_model and enc.settings.query_max_length == 16
    passages = [setup.corpus[d] for d in vectors.ids[:5]]
    np.testing.assert_allclose(enc.encode_passages(passages), vectors.docs[:5], rtol=1e-5, atol=1e-5)
    assert not np.allclose(enc.encode_queries(["aspirin fever"])[0],
                           DenseEncoder(setup.model_nodrop).encode_queries(["aspirin fever"])[0], atol=1e-4)

    # step 1's loss: the rank-weighted pairwise loss of the first batch's top 10 (cut 5), computed here
    groups, positives = first_batch(setup, 4, 0)
    per_query = []
    for g in groups:
        scores = vectors.docs @ vectors.queries[g.query_id]
        ids = [vectors.ids[j] for j in np.argsort(-scores, kind="stable")[:10]]
        rel = [d in positives[g.query_id] for d in ids]
        if not any(rel):
            extra = sorted(positives[g.query_id])
            ids, rel = ids + extra, rel + [True] * len(extra)
        inv = [1 / r if r <= 5 else 0.0 for r in range(1, len(ids) + 1)]
        s = [scores[vectors.index[d]] for d in ids]
        pairs = [(i, j) for i in range(len(ids)) for j in range(len(ids)) if rel[i] and not rel[j]]
        per_query.append(sum(abs(inv[i] - inv[j]) * math.log1p(math.exp(s[j] - s[i])) for i, j in pairs)
                         / len(pairs))
    assert losses(out)[0] == pytest.approx(sum(per_query) / len(per_query), rel=1e-5)


def test_adore_dev_evaluation_ranks_the_frozen_passage_vectors(setup, tmp_path, monkeypatch):
    """ADORE's passage tower is frozen: its dev evaluation ranks the vectors encoded at the start instead of
    encoding the corpus once more, and its run is the final model's exact ranking of the dev queries."""
    from pyserini_dr.encode import DenseEncoder
    from pyserini_dr.encode.corpus import CorpusEncoder

    encoded = []
    real = CorpusEncoder.encode_pairs
    monkeypatch.setattr(CorpusEncoder, "encode_pairs",
                        lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    dev = tmp_path / "dev.jsonl"
    dev_examples = read_examples(setup.train)[:6]
    write_examples(dev_examples, dev)
    out = tmp_path / "adore-dev"
    train_here(train_argv(setup, out, "--batch-size", 4, "--max-steps", 2, "--retrieve-depth", 10, "--metric-cut", 5,
                          "--dev-data", dev, recipe="adore"))
    assert len(encoded) == 1  # the start's, not one more per evaluation
    enc = DenseEncoder(out / "model")
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids])
    q = enc.encode_queries([e.query for e in dev_examples])
    run = {}
    for line in sorted((out / "dev_runs").iterdir())[-1].read_text().splitlines():
        qid, _, docid, *_ = line.split()
        run.setdefault(qid, []).append(docid)
    for i, e in enumerate(dev_examples):
        assert run[e.query_id] == [ids[j] for j in np.argsort(-(docs @ q[i]), kind="stable")]


def test_warmup_model_loads_with_dense_encoder(setup, one_process):
    from pyserini_dr.encode import DenseEncoder

    model = one_process.out / "model"
    assert json.loads((model / "encoder_settings.json").read_text()) == \
        json.loads((setup.model_nodrop / "encoder_settings.json").read_text())
    assert not (model / "query_encoder").exists()
    enc = DenseEncoder(model)
    assert enc.passage_model is enc.query_model
    trained = enc.encode_queries(["aspirin fever"])
    start = DenseEncoder(setup.model_nodrop).encode_queries(["aspirin fever"])
    assert trained.shape == (1, 32) and not np.allclose(trained, start, atol=1e-4)


def test_log_every_averages_its_window(setup, one_process, tmp_path):
    out = tmp_path / "log3"
    train_here(train_argv(setup, out, *WHOLE_BATCH, "--log-every", 3))
    records, summary = read_log(out)
    assert [r["step"] for r in records] == [3, 4]  # every 3 steps, and the last step
    one = one_process.losses
    assert [r["loss"] for r in records] == pytest.approx([sum(one[:3]) / 3, one[3]], rel=1e-5)
    assert [r["epoch"] for r in records] == [1, 1] and summary["steps"] == 4


def test_rerunning_a_finished_command_keeps_one_summary(setup, tmp_path, capsys):
    out = tmp_path / "done"
    argv = train_argv(setup, out, "--batch-size", 8, "--max-steps", 1)
    train_here(argv)
    train_here(argv)
    assert "resumed from step 1 of 1" in capsys.readouterr().err
    read_log(out)  # asserts that only the last line is a summary


def test_dev_evaluation_hook(setup, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder

    dev = tmp_path / "dev.jsonl"
    dev_examples = read_examples(setup.train)[:6]
    write_examples(dev_examples, dev)
    out = tmp_path / "dev-run"
    train_here(train_argv(setup, out, *WHOLE_BATCH, "--dev-data", dev, "--keep-best"))
    err = capsys.readouterr().err
    records = [json.loads(x) for x in (out / "dev_log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["epoch"]) for r in records] == [(2, 0), (4, 1)]  # at each epoch's end
    assert "dev after epoch 2: ndcg_cut.10" in err
    # the last dev run is the final model's exact ranking of the dev queries, and nDCG@10 is computed from it
    enc = DenseEncoder(out / "model")
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids])
    q = enc.encode_queries([e.query for e in dev_examples])
    run = {}
    for line in (out / "dev_runs" / "step000004.txt").read_text().splitlines():
        qid, _, docid, rank, score, _ = line.split()
        run.setdefault(qid, []).append(docid)
    ndcgs = []
    for i, e in enumerate(dev_examples):
        expected = [ids[j] for j in np.argsort(-(docs @ q[i]), kind="stable")]
        assert run[e.query_id] == expected  # depth 100 > 40 documents: all of them
        dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(expected[:10]) if d in e.positives)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(10, len(e.positives))))
        ndcgs.append(dcg / idcg)
    assert records[-1]["ndcg_cut.10"] == pytest.approx(sum(ndcgs) / len(ndcgs), abs=1e-4)
    best = max(records, key=lambda r: r["ndcg_cut.10"])
    assert read_log(out)[1]["best_dev"] == best
    assert (out / "best" / "model.safetensors").is_file()
    if best["step"] == 4:
        assert_same_weights(weights(out / "best"), weights(out / "model"))


# ==== 8. a training file that names an unknown document ==========================================================

def test_a_checkpoint_only_continues_the_run_that_wrote_it(setup, cli, tmp_path):
    out = tmp_path / "run"
    train_here(train_argv(setup, out, "--batch-size", 8, "--max-steps", 1))
    done = cli("pyserini_dr.train", *train_argv(setup, out, "--batch-size", 4, "--max-steps", 1))
    assert done.returncode == 2
    assert done.error_line() == (f"error: {out / 'checkpoint'} continues a run with other settings (batch_size 8 -> 4): "
                                 "rerun with the same ones, or pick another --output")


def test_unknown_document_in_the_training_file(setup, cli, tmp_path):
    bad = tmp_path / "train.jsonl"
    examples = read_examples(setup.train)
    examples[3].negatives.append("d99")
    write_examples(examples, bad)
    argv = train_argv(setup, tmp_path / "out", "--batch-size", 4, "--max-steps", 1)
    argv[argv.index("--train-data") + 1] = str(bad)
    line = cli("pyserini_dr.train", *argv).error_line()
    assert f"query {examples[3].query_id} " in line and "'d99'" in line and str(bad) in line
    assert not (tmp_path / "out").exists()


# ==== the GPU side imports without pyserini, Java, faiss or trectools =============================================

BLOCKED_IMPORTS = """
import importlib, sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'pyserini', 'jnius', 'jnius_config', 'faiss', 'trectools'}:
            raise ImportError(f'{name} is not installed on the GPU machine')
sys.meta_path.insert(0, Blocker())
for m in ['pyserini_dr.encode.__main__', 'pyserini_dr.search.faiss.__main__', 'pyserini_dr.train.__main__',
          'pyserini_dr.train.trainer', 'pyserini_dr.train.recipes', 'pyserini_dr.train.evaluation',
          'pyserini_dr.train.soup', 'pyserini_dr.train.mix']:
    importlib.import_module(m)
print('ok')
"""


def test_gpu_side_imports_without_pyserini_faiss_or_trectools():
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORTS], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_a_checkpoint_refuses_other_inputs_and_survives_a_torn_log_line(setup, cli, tmp_path):
    out = tmp_path / "run"
    argv = train_argv(setup, out, "--batch-size", 8, "--max-steps", 1)
    train_here(argv)
    line = cli("pyserini_dr.train", *argv, "--depth", 50).error_line()
    assert line.startswith(f"error: {out / 'checkpoint'} continues a run with other settings (inputs ")
    assert "'depth': 200" in line and "'depth': 50" in line
    with open(out / "train_log.jsonl", "a") as f:
        f.write('{"step": 1, "lo')  # a kill in the middle of an append
    train_here(argv)  # resumes (at the end) without tripping on it
    records, summary = read_log(out)
    assert [r["step"] for r in records] == [1] and summary["steps"] == 1


@pytest.mark.parametrize("flag, value", [("--log-every", 0), ("--margin-bins", 0), ("--grad-cache-chunk", -1),
                                         ("--temperature", 0), ("--max-steps", -1)])
def test_bad_numbers_are_one_line(setup, cli, tmp_path, flag, value):
    done = cli("pyserini_dr.train", *train_argv(setup, tmp_path / "out", flag, value))
    assert done.returncode == 2 and done.error_line().startswith("error: ") and flag in done.error_line()
    assert not (tmp_path / "out").exists()


def test_tiled_top_k_equals_one_pass():
    from pyserini_dr.train.dense_ranking import DenseRanker

    gen = torch.Generator().manual_seed(0)
    q, d = torch.randn(37, 16, generator=gen), torch.randn(1000, 16, generator=gen)
    scores, indices = DenseRanker.top_k(q, d, 50, chunk=8, doc_tile=64)  # 16 tiles merged
    reference = torch.topk(q @ d.T, 50, dim=1)
    assert torch.equal(indices, reference.indices)
    torch.testing.assert_close(scores, reference.values)


# ==== 9. weight averaging (python -m pyserini_dr.train.soup), mixed training files (train.mix) ==================

def _variant(setup, path: Path, seed: int) -> Path:
    """The tiny BERT with every floating-point tensor moved by seeded noise: a stand-in for a fine-tuned copy."""
    import shutil

    from safetensors.torch import save_file

    shutil.copytree(setup.model_nodrop, path)
    gen = torch.Generator().manual_seed(seed)
    state = {k: v + 0.1 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
             for k, v in weights(setup.model_nodrop).items()}
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    return path


def _untied(setup, path: Path, query: Path) -> Path:
    """A checkpoint laid out as ADORE saves one: query_encoder/ from ``query``, passage_encoder/ the start."""
    import shutil

    path.mkdir()
    shutil.copytree(query, path / "query_encoder")
    shutil.copytree(setup.model_nodrop, path / "passage_encoder")
    shutil.copy(setup.model_nodrop / "encoder_settings.json", path)
    return path


def test_soup_is_the_weighted_mean_of_every_weight(setup, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder
    from pyserini_dr.train.soup import main

    models = [_variant(setup, tmp_path / f"m{i}", i) for i in range(3)]
    from safetensors.torch import save_file  # the first model in float16: the soup keeps its dtype

    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights(models[0]).items()},
              str(models[0] / "model.safetensors"), metadata={"format": "pt"})
    states = [weights(m) for m in models]
    assert main(["--models", *map(str, models), "--output", str(tmp_path / "uniform")]) == 0
    assert capsys.readouterr().err.startswith("averaged ")
    uniform = weights(tmp_path / "uniform")
    assert sorted(uniform) == sorted(states[0])
    for key, tensor in uniform.items():
        assert tensor.dtype == states[0][key].dtype
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float16
            expected = np.mean([s[key].numpy().astype(np.float64) for s in states], axis=0)
            np.testing.assert_allclose(tensor.double().numpy(), expected, rtol=1e-3, atol=1e-4)  # float16's step
        else:
            assert torch.equal(tensor, states[0][key])
    assert main(["--models", str(models[0]), str(models[1]), "--weights", "0.8", "0.2",
                 "--output", str(tmp_path / "wise")]) == 0
    wise = weights(tmp_path / "wise")
    for key in wise:
        expected = 0.8 * states[0][key].double().numpy() + 0.2 * states[1][key].double().numpy()
        np.testing.assert_allclose(wise[key].double().numpy(), expected, rtol=0, atol=2e-3)  # float16's step
    # the soup is a checkpoint like any other: tokenizer and settings from the first model, its vectors its own
    for name in ("encoder_settings.json", "tokenizer.json", "config.json"):
        assert (tmp_path / "uniform" / name).read_bytes() == (models[0] / name).read_bytes()
    texts = list(setup.topics.values())[:3]
    soup_vectors = DenseEncoder(tmp_path / "uniform").encode_queries(texts)
    assert not np.allclose(soup_vectors, DenseEncoder(models[0]).encode_queries(texts), atol=1e-3)


def test_query_tower_soup_keeps_the_passage_tower(setup, tmp_path):
    from pyserini_dr.train.soup import main

    adore = _untied(setup, tmp_path / "adore", _variant(setup, tmp_path / "q", 1))
    generalist = _variant(setup, tmp_path / "g", 2)  # one tied encoder
    assert main(["--models", str(adore), str(generalist), "--weights", "0.7", "0.3", "--tower", "query",
                 "--output", str(tmp_path / "soup")]) == 0
    soup, q, g = (weights(p) for p in (tmp_path / "soup" / "query_encoder", adore / "query_encoder", generalist))
    for key in soup:
        np.testing.assert_allclose(soup[key].numpy(), 0.7 * q[key].numpy() + 0.3 * g[key].numpy(), rtol=0, atol=1e-6)
    passage = (tmp_path / "soup" / "passage_encoder" / "model.safetensors").read_bytes()
    assert passage == (adore / "passage_encoder" / "model.safetensors").read_bytes()  # the index stays valid
    # WiSE-FT toward the pre-trained start, a checkpoint without saved settings (as from the hub)
    (generalist / "encoder_settings.json").unlink()
    assert main(["--models", str(tmp_path / "g"), str(setup.model_nodrop), "--weights", "0.5", "0.5",
                 "--output", str(tmp_path / "wise")]) == 0
    assert (tmp_path / "wise" / "model.safetensors").exists()


def test_soup_refusals(setup, tmp_path, cli):
    from transformers import BertConfig, BertModel

    from pyserini_dr.train.soup import soup

    a, b = _variant(setup, tmp_path / "a", 1), _variant(setup, tmp_path / "b", 2)
    wider = tmp_path / "wider"
    BertModel(BertConfig(vocab_size=60, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(wider)
    (wider / "encoder_settings.json").write_text((a / "encoder_settings.json").read_text())
    other_settings = _variant(setup, tmp_path / "c", 3)
    settings = json.loads((other_settings / "encoder_settings.json").read_text())
    (other_settings / "encoder_settings.json").write_text(json.dumps({**settings, "l2_norm": not settings["l2_norm"]}))
    cases = [(([a], None, "both"), "at least two --models"),
             (([a, b], [0.5, 0.6], "both"), "sum to 1"),
             (([a, b], [1.0], "both"), "1 --weights for 2 --models"),
             (([a, wider], None, "both"), "is another architecture: embeddings."),
             (([a, other_settings], None, "both"), "has other encoder settings"),
             (([a, b], [float("nan"), 0.5], "both"), "non-negative and sum to 1"),
             (([a, b], None, "query"), "--tower query needs a first model with separate towers"),
             (([_untied(setup, tmp_path / "split", a), b], None, "both"), "are laid out differently")]
    for (models, w, tower), message in cases:
        with pytest.raises(InputError, match=message):
            soup([str(m) for m in models], str(tmp_path / "out"), w, tower)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.saving").exists()  # nothing half-written
    for output in (a, a / "soup", tmp_path):  # a model, inside one, around one: replacing it would lose a model
        with pytest.raises(InputError, match="must be neither one of the --models nor inside or around one"):
            soup([str(a), str(b)], str(output))
    assert weights(a).keys() == weights(b).keys()
    done = cli("pyserini_dr.train.soup", "--models", a, b, "--weights", "0.5", "0.6", "--output", tmp_path / "out")
    assert done.returncode == 2
    assert done.error_line() == "error: --weights must be non-negative and sum to 1, got [0.5, 0.6]"
    assert not (tmp_path / "out").exists()


def test_mix_repeats_each_input_under_its_own_ids(setup, tmp_path, cli):
    from pyserini_dr.train.examples import repeat_examples
    from pyserini_dr.train.mix import main

    labelled = read_examples(setup.train)
    pseudo = [TrainExample("title-d00", "a title", ["d00"], ["d01", "d02"]),
              TrainExample("title-d03", "another", ["d03"], ["d04"])]
    write_examples(pseudo, tmp_path / "pseudo.jsonl.gz")
    assert read_examples(tmp_path / "pseudo.jsonl.gz") == pseudo  # written and read back compressed
    assert main(["--inputs", str(setup.train), str(tmp_path / "pseudo.jsonl.gz"), "--repeats", "3", "1",
                 "--output", str(tmp_path / "mix.jsonl.gz")]) == 0
    mixed = read_examples(tmp_path / "mix.jsonl.gz")
    n = len(labelled)
    assert len(mixed) == 3 * n + 2 and mixed[3 * n:] == pseudo
    for k in range(3):
        copy = mixed[k * n:(k + 1) * n]
        assert [e.query_id for e in copy] == [e.query_id + (f"~{k}" if k else "") for e in labelled]
        assert [(e.query, e.positives, e.negatives) for e in copy] == [(e.query, e.positives, e.negatives)
                                                                        for e in labelled]
    with pytest.raises(InputError, match="query id q00 is in two of the inputs"):
        repeat_examples([labelled, labelled[:1]], [1, 1])
    done = cli("pyserini_dr.train.mix", "--inputs", setup.train, "--repeats", "0", "--output", tmp_path / "bad.jsonl")
    assert done.returncode == 2 and done.error_line() == "error: --repeats must be 1 or more, got [0]"
    assert not (tmp_path / "bad.jsonl").exists()
