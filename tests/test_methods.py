"""The recipes' losses against independent computations written from the authors' code (plain torch on tiny tensors,
in the reference's own layout; none of these calls our loss functions for the expected value)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pyserini_dr.train.batches import Group, GroupSampler
from pyserini_dr.train.examples import TrainExample


def _tiny(b=3, negatives=2, d=4, seed=0):
    """Query vectors [B, d], passages in our layout [B * (1 + negatives), d] (positive then its negatives) and the
    reference's [pos; neg] split of them."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, d, generator=g)
    p = torch.randn(b * (1 + negatives), d, generator=g)
    rows = torch.arange(b) * (1 + negatives)
    keep = torch.ones(p.shape[0], dtype=torch.bool)
    keep[rows] = False
    return q, p, p[rows], p[keep]


def _sampler(b, negatives):
    examples = [TrainExample(f"q{i}", f"query {i}", [f"p{i}"], [f"n{i}{k}" for k in range(negatives)])
                for i in range(b)]
    corpus = [d for e in examples for d in (*e.positives, *e.negatives)]
    groups = [Group(e.query_id, e.query, e.positives[0], list(e.negatives)) for e in examples]
    return GroupSampler(examples, corpus, negatives=negatives, batch_size=b), groups


# ---- PAIR ----------------------------------------------------------------------------------------------------------

def test_pair_loss_matches_the_reference():
    """PaddlePaddle/Research NLP/ACL2021-PAIR/model/src/finetune/dual_encoder.py (``create_model``, is_pretrain):
    logits = q @ [pos; neg]^T, logits_qp = pos @ [q; neg]^T, both softmax cross-entropy with label i,
    loss = (1 - alpha) * mean(ce) + alpha * mean(p_centric), alpha = 0.1."""
    from pyserini_dr.train.losses import passage_centric
    from pyserini_dr.train.recipes import PAIR, PairOptions

    q, p, pos, neg = _tiny(b=3, negatives=1)
    labels = torch.arange(3)
    ce = F.cross_entropy(q @ torch.cat([pos, neg]).T, labels)
    p_centric = F.cross_entropy(pos @ torch.cat([q, neg]).T, labels)
    assert float(passage_centric(q, p)) == pytest.approx(float(p_centric), rel=1e-5)

    sampler, groups = _sampler(3, 1)
    recipe = PAIR(PairOptions(), sampler, None)
    assert recipe.options.pair_alpha == 0.1
    loss = recipe.loss(q, p, groups, recipe.prepare(groups))
    assert float(loss) == pytest.approx(float(0.9 * ce + 0.1 * p_centric), rel=1e-5)


def test_pair_passage_centric_with_several_negatives_and_a_temperature():
    """The same rule with G - 1 = 2 hard negatives per query (the reference has one): every hard negative of the
    batch is in each positive's softmax, beside every query."""
    from pyserini_dr.train.losses import passage_centric

    q, p, pos, neg = _tiny(b=2, negatives=2, seed=1)
    expected = F.cross_entropy(pos @ torch.cat([q, neg]).T / 0.5, torch.arange(2))
    assert float(passage_centric(q, p, temperature=0.5)) == pytest.approx(float(expected), rel=1e-5)


# ---- SimLM fine-tuning ---------------------------------------------------------------------------------------------

def test_simlm_loss_matches_the_reference():
    """microsoft/unilm simlm/src/utils.py ``full_contrastive_scores_and_labels`` (use_all_pairs) and
    simlm/src/models/biencoder_model.py ``BiencoderModel.forward`` (do_kd_biencoder, kd_mask_hn False):
    scores = [q k^T, k+ q^T, q q^T, k+ k+^T] (diagonals of the last three -inf) / t, labels i * n_passages;
    group scores gathered from the q k^T block; loss = kd_cont_loss_weight * CE + KLDiv(batchmean, log_target) of
    log_softmax(group scores) against log_softmax(teacher scores); train_kd_biencoder.sh: weight 0.2, t 0.02."""
    from pyserini_dr.train.recipes import SimLM, SimLMOptions

    b, n = 3, 2
    q, p, _, _ = _tiny(b=b, negatives=n, seed=2)
    q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)   # the reference's l2_normalize
    t = 0.02
    labels = torch.arange(b) * (1 + n)
    key = p.index_select(0, labels)
    kq, qq, kk = key @ q.T, q @ q.T, key @ key.T
    for m in (kq, qq, kk):
        m.fill_diagonal_(float("-inf"))
    scores = torch.cat([q @ p.T, kq, qq, kk], dim=-1) / t
    ce = F.cross_entropy(scores, labels)
    indices = torch.arange(1 + n).repeat(b, 1) + torch.arange(b).unsqueeze(-1) * (1 + n)
    group = torch.gather(scores, 1, indices)
    g = torch.Generator().manual_seed(3)
    teacher = torch.randn(b, 1 + n, generator=g) * 3
    kd = torch.nn.KLDivLoss(reduction="batchmean", log_target=True)(
        torch.log_softmax(group, -1), torch.log_softmax(teacher, -1))
    expected = 0.2 * ce + kd

    sampler, groups = _sampler(b, n)
    recipe = SimLM.__new__(SimLM)
    recipe.options, recipe.sampler, recipe.ranker = SimLMOptions(), sampler, None
    recipe.temperature = SimLM.normalized_temperature
    assert (recipe.temperature, recipe.options.contrastive_weight, recipe.options.kl_weight) == (0.02, 0.2, 1.0)
    recipe.teacher = {gr.query_id: {d: float(teacher[i, j]) for j, d in enumerate([gr.positive, *gr.negatives])}
                      for i, gr in enumerate(groups)}
    loss = recipe.loss(q, p, groups, recipe.prepare(groups))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
