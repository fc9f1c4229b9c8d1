"""The published losses, one function each, on representations already computed.

Scores are dot products divided by ``temperature`` (1.0 reproduces the papers' raw dot products; an L2-normalized
model such as all-MiniLM-L6-v2 needs a small one, as sentence-transformers' scale of 20 = 1 / 0.05).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive(q: torch.Tensor, p: torch.Tensor, *, temperature: float = 1.0,
                false_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """In-batch softmax cross-entropy with hard negatives (DPR, Karpukhin et al. 2020; sentence-transformers'
    MultipleNegativesRankingLoss; Tevatron).

    q: [B, d]; p: [B * G, d], query i's positive at row i * G followed by its G - 1 hard negatives; every other row
    of p is a negative for query i. ``false_negatives`` [B, B * G] (bool) drops passages known to be relevant to a
    query other than its target (another query's positive that is also its own).
    """
    scores = (q.float() @ p.float().T) / temperature
    if false_negatives is not None:
        scores = scores.masked_fill(false_negatives, float("-inf"))
    group = p.shape[0] // q.shape[0]
    target = torch.arange(q.shape[0], device=q.device) * group
    return F.cross_entropy(scores, target)


def full_contrastive(q: torch.Tensor, p: torch.Tensor, *, temperature: float = 1.0,
                     false_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """SimLM's contrastive loss (Wang et al., 2022; microsoft/unilm simlm/src/utils.py
    ``full_contrastive_scores_and_labels``, use_all_pairs): query i's row scores q_i against every passage (q->p,
    target its positive), its positive p_i+ against the other queries (p->q), q_i against the other queries (q->q)
    and p_i+ against the other positives (p->p); one softmax cross-entropy over the concatenated row.

    q, p and ``false_negatives`` as in ``contrastive``. The mask also drops, from row i, q_j where p_i+ is marked
    for q_j (p->q) and p_j+ where it is marked for q_i (p->p); the reference masks nothing.
    """
    q, p = q.float(), p.float()
    b = q.shape[0]
    rows = torch.arange(b, device=q.device) * (p.shape[0] // b)
    positives = p[rows]
    diagonal = torch.eye(b, dtype=torch.bool, device=q.device)
    qk, kq, qq, kk = q @ p.T, positives @ q.T, q @ q.T, positives @ positives.T
    drop_kq, drop_kk = diagonal, diagonal
    if false_negatives is not None:
        qk = qk.masked_fill(false_negatives, float("-inf"))
        drop_kq = drop_kq | false_negatives[:, rows].T
        drop_kk = drop_kk | false_negatives[:, rows]
    scores = torch.cat([qk, kq.masked_fill(drop_kq, float("-inf")), qq.masked_fill(diagonal, float("-inf")),
                        kk.masked_fill(drop_kk, float("-inf"))], dim=1) / temperature
    return F.cross_entropy(scores, rows)


def pairwise_softmax(q: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, *, temperature: float = 1.0,
                     in_batch_mask: torch.Tensor | None = None, hard_mask: torch.Tensor | None = None) -> torch.Tensor:
    """DRhard's STAR loss (Zhan et al., SIGIR 2021, ``inbatch_train``): every (positive, negative) pair of a query
    is a two-way softmax, -log e^{s+} / (e^{s+} + e^{s-}) = softplus(s- - s+), averaged over all pairs.

    q: [B, d]; positives: [B, d] (row i is query i's positive; the other rows are its random in-batch negatives);
    negatives: [N, d] hard negatives of all queries, each a negative for every query. ``in_batch_mask`` [B, B] and
    ``hard_mask`` [B, N] (1 keeps a pair) drop pairs whose "negative" is relevant to the query; the diagonal of the
    in-batch part is always dropped.
    """
    q = q.float()
    s_pos = (q * positives.float()).sum(-1, keepdim=True) / temperature              # [B, 1]
    s_batch = (q @ positives.float().T) / temperature                               # [B, B]
    keep_batch = 1 - torch.eye(q.shape[0], device=q.device)
    if in_batch_mask is not None:
        keep_batch = keep_batch * in_batch_mask
    total = (F.softplus(s_batch - s_pos) * keep_batch).sum()
    count = keep_batch.sum()
    if negatives is not None and negatives.shape[0]:
        s_hard = (q @ negatives.float().T) / temperature                           # [B, N]
        keep_hard = torch.ones_like(s_hard) if hard_mask is None else hard_mask.float()
        total = total + (F.softplus(s_hard - s_pos) * keep_hard).sum()
        count = count + keep_hard.sum()
    return total / count.clamp(min=1)


def rank_weighted_pairwise(scores: torch.Tensor, relevant: torch.Tensor, *, metric_cut: int | None = None,
                           temperature: float = 1.0) -> torch.Tensor:
    """ADORE's LambdaRank-style loss (Zhan et al., SIGIR 2021; DRhard ``adore/train.py``) for one query.

    scores: [K] the query's scores of its retrieved list in rank order (positives not retrieved appended after);
    relevant: [K] bool. Each (relevant i, irrelevant j) pair costs softplus(s_j - s_i), weighted by the change in
    reciprocal rank if the two swapped, |1/rank_i - 1/rank_j|, with 1/rank = 0 beyond ``metric_cut`` (MRR@cut);
    the sum is divided by the number of pairs. (DRhard's code writes both of its pair terms with the same sign;
    this is the paper's direction: an irrelevant document above a relevant one costs.)
    """
    s = scores.float() / temperature
    k = s.shape[0]
    inverse_rank = 1.0 / torch.arange(1, k + 1, device=s.device, dtype=s.dtype)
    if metric_cut is not None:
        inverse_rank[metric_cut:] = 0
    weights = (inverse_rank[:, None] - inverse_rank[None, :]).abs()
    pairs = (relevant[:, None] & ~relevant[None, :]).to(s.dtype)                    # i relevant, j not
    cost = F.softplus(s[None, :] - s[:, None])                                      # [i, j]: s_j - s_i
    return (cost * weights * pairs).sum() / pairs.sum().clamp(min=1)


def margin_mse(student_margin: torch.Tensor, teacher_margin: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """Margin-MSE (Hofstätter et al., 2020): the student's score margin s(q, p+) - s(q, p-) regressed on the
    teacher's t(q, p+) - t(q, p-), mean squared error over the pairs (``mask`` 1 keeps a pair).

    student_margin, teacher_margin: any shape, the same; float32.
    """
    err = (student_margin.float() - teacher_margin.float()) ** 2
    if mask is None:
        return err.mean()
    mask = mask.to(err.dtype)
    return (err * mask).sum() / mask.sum().clamp(min=1)


def passage_centric(q: torch.Tensor, p: torch.Tensor, *, temperature: float = 1.0,
                    exclude: torch.Tensor | None = None) -> torch.Tensor:
    """PAIR's passage-centric loss (Ren et al., ACL-Findings 2021; PaddlePaddle/Research
    NLP/ACL2021-PAIR/model/src/finetune/dual_encoder.py, ``logits_qp = pos @ [q; neg]^T``): each positive passage
    must be closer to its own query than to every other query and every hard negative of the batch,
    -log e^{s(p_i+, q_i)} / (sum_j e^{s(p_i+, q_j)} + sum_n e^{s(p_i+, n)}).

    q: [B, d]; p: [B * G, d] laid out as in ``contrastive`` (query i's positive at row i * G, its hard negatives
    after it). ``exclude`` [B, B * G] (bool, ``false_negative_mask``: passage relevant to query i, or outside its
    group without in-batch negatives) drops the query q_j from row i where p_i+ is marked for q_j, and the negative
    n from row i where n is marked for q_i (the reference masks nothing).
    """
    b = q.shape[0]
    group = p.shape[0] // b
    rows = torch.arange(b, device=q.device) * group
    is_negative = torch.ones(p.shape[0], dtype=torch.bool, device=q.device)
    is_negative[rows] = False
    positives = p.float()[rows]                                                        # [B, d]
    s_q = (positives @ q.float().T) / temperature                                      # [B, B]: p_i+ . q_j
    s_n = (positives @ p.float()[is_negative].T) / temperature                          # [B, B * (G - 1)]
    if exclude is not None:
        drop_q = exclude[:, rows].T.clone()                                            # [i, j]: p_i+ marked for q_j
        drop_q.fill_diagonal_(False)
        s_q = s_q.masked_fill(drop_q, float("-inf"))
        s_n = s_n.masked_fill(exclude[:, is_negative], float("-inf"))
    logits = torch.cat([s_q, s_n], dim=1)
    return F.cross_entropy(logits, torch.arange(b, device=q.device))
