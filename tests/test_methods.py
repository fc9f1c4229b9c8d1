"""The recipes' losses against independent computations written from the authors' code (plain torch on tiny tensors,
in the reference's own layout; none of these calls our loss functions for the expected value)."""
from __future__ import annotations

from collections import Counter

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


# ---- TAS-B ---------------------------------------------------------------------------------------------------------

def test_tasb_loss_matches_the_reference():
    """sebastian-hofstaetter/matchmaker matchmaker/train.py (in-batch negatives with the dynamic teacher) and
    config/train/modes/tas_balanced.yaml: ib_select drops the diagonal; ib_loss = 0.5 * (MarginMSE(s(q_i, p_i+),
    s(q_i, p_j+), t(q_i, p_i+), t(q_i, p_j+)) + MarginMSE(s(q_i, p_i+), s(q_i, n_j), ...)) over j != i;
    loss = in_batch_main_pair_lambda (1) * MarginMSE(pair) + in_batch_neg_lambda (0.75) * ib_loss."""
    from pyserini_dr.train.batches import TopicBalancedSampler
    from pyserini_dr.train.recipes import TASB, TasbOptions

    b = 3
    q, p, pos, neg = _tiny(b=b, negatives=1, seed=4)
    g = torch.Generator().manual_seed(5)
    t_pos, t_neg = torch.randn(b, b, generator=g), torch.randn(b, b, generator=g)  # teacher t(q_i, p_j+), t(q_i, n_j)
    mse = torch.nn.MSELoss()
    margin_mse = lambda s_pos, s_neg, l_pos, l_neg: mse(s_pos - s_neg, l_pos - l_neg)  # noqa: E731
    s_pos, s_neg = q @ pos.T, q @ neg.T
    main = margin_mse(s_pos.diagonal(), s_neg.diagonal(), t_pos.diagonal(), t_neg.diagonal())
    select = ~torch.eye(b, dtype=torch.bool)
    expanded_pos = s_pos.diagonal().unsqueeze(-1).expand(-1, b - 1).reshape(-1)
    label_pos_only = t_pos.diagonal().unsqueeze(-1).expand(-1, b - 1).reshape(-1)
    ib = (margin_mse(expanded_pos, s_pos[select], label_pos_only, t_pos[select]) +
          margin_mse(expanded_pos, s_neg[select], label_pos_only, t_neg[select])) * 0.5
    expected = 1 * main + 0.75 * ib

    examples = [TrainExample(f"q{i}", f"query {i}", [f"p{i}"], [f"n{i}"]) for i in range(b)]
    teacher = {f"q{i}": {**{f"p{j}": float(t_pos[i, j]) for j in range(b)},
                         **{f"n{j}": float(t_neg[i, j]) for j in range(b)}} for i in range(b)}
    sampler = TopicBalancedSampler(examples, [d for e in examples for d in (*e.positives, *e.negatives)],
                                   clusters={e.query_id: 0 for e in examples}, teacher=teacher, batch_size=b)
    recipe = TASB(TasbOptions(), sampler, None)
    groups = [Group(e.query_id, e.query, e.positives[0], list(e.negatives)) for e in examples]
    loss = recipe.loss(q, p, groups, recipe.prepare(groups))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_tas_balanced_batches_draw_a_random_cluster_and_fill_from_another():
    """matchmaker/dataloaders/tas_balanced_training_loader.py ``data_loader_subprocess`` (clusters_per_batch 1):
    c_idx = random.randint over the clusters (uniform, not by size), batch_size of its queries sampled, a smaller
    cluster taken whole and the batch filled from the next randomly drawn cluster."""
    from pyserini_dr.train.batches import TopicBalancedSampler

    sizes = [1, 2, 9]   # cluster c holds queries of that many; batches of 4
    examples, clusters = [], {}
    for c, n in enumerate(sizes):
        for k in range(n):
            examples.append(TrainExample(f"c{c}q{k}", "query", [f"c{c}p{k}"], [f"c{c}n{k}"]))
            clusters[f"c{c}q{k}"] = c
    corpus = [d for e in examples for d in (*e.positives, *e.negatives)]
    sampler = TopicBalancedSampler(examples, corpus, clusters=clusters, teacher={}, batch_size=4, seed=7)
    first = Counter()
    for index in range(3000):
        batch = [clusters[g.query_id] for g in sampler.batch(0, index)]
        assert len(batch) == 4
        runs = [batch[0]] + [c for prev, c in zip(batch, batch[1:]) if c != prev]
        first[batch[0]] += 1
        # the first cluster gives min(4, its size) queries, then the next drawn one fills the rest
        head = min(4, sizes[batch[0]])
        assert batch[:head] == [batch[0]] * head
        if head == 4:
            assert runs == [batch[0]]
    for c in range(3):   # uniform over clusters (a walk or a query-weighted draw would favour the big one)
        assert first[c] / 3000 == pytest.approx(1 / 3, abs=0.04)


def test_simlm_false_negatives_leave_every_block():
    """Our one addition to ``full_contrastive_scores_and_labels``: a passage relevant to query i (here p0, a positive
    of both q0 and q1) leaves q1's q->p block (p0), q0's p->q block (q1, as p0 is q1's too) and q1's p->p block."""
    from pyserini_dr.train.losses import full_contrastive

    q, p, _, _ = _tiny(b=2, negatives=1, seed=6)
    labels = torch.tensor([0, 2])
    key = p[labels]
    qk, kq, qq, kk = q @ p.T, key @ q.T, q @ q.T, key @ key.T
    for m in (kq, qq, kk):
        m.fill_diagonal_(float("-inf"))
    qk[1, 0] = kq[0, 1] = kk[1, 0] = float("-inf")
    expected = F.cross_entropy(torch.cat([qk, kq, qq, kk], -1), labels)
    mask = torch.tensor([[False, False, False, False], [True, False, False, False]])
    assert float(full_contrastive(q, p, false_negatives=mask)) == pytest.approx(float(expected), rel=1e-5)
