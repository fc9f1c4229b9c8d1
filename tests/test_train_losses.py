"""Training losses (``pyserini_dr.train.losses``) against hand arithmetic (split from tests/test_train.py)."""
from __future__ import annotations

import math

import pytest
import torch

from pyserini_dr.train.losses import contrastive, pairwise_softmax, rank_weighted_pairwise


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
