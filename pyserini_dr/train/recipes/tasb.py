"""``tasb`` (Hofstätter et al., SIGIR 2021): topic-clustered, margin-balanced batches; Margin-MSE distillation."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import InputError
from ..losses import margin_mse
from .base import Recipe, TeacherOptions, flag
from ...arg_types import non_negative_real, positive


@dataclass
class TasbOptions(TeacherOptions):
    clusters: str | None = flag(None, help="tasb: query topic clusters (python -m pyserini_dr.train.clusters)")
    margin_bins: int = flag(10, type=positive, help="tasb: teacher-margin bins of the balanced sampling")
    in_batch_weight: float = flag(0.75, type=non_negative_real, help="tasb: weight of the in-batch Margin-MSE term "
                                  "(matchmaker's in_batch_neg_lambda)")


class TASB(Recipe):
    """TAS-B (Hofstätter et al., SIGIR 2021; sebastian-hofstaetter/matchmaker config/train/modes/tas_balanced.yaml,
    matchmaker/train.py): topic-clustered batches, teacher-margin-balanced pairs (``TopicBalancedSampler``), loss =
    Margin-MSE on each query's (positive, negative) pair + ``in_batch_weight`` (0.75, in_batch_neg_lambda) x the
    in-batch term, the mean of Margin-MSE over the other queries' positives and Margin-MSE over their negatives
    (train.py's ``ib_loss = (...pos_docs + ...neg_docs) * 0.5``; where the teacher scored none of one kind, the other
    alone). The paper's in-batch teacher is a ColBERT model; here both terms use the cross-encoder's scores file, and an in-batch pair it has no score for is
    left out (topic-clustered batches make such scores likely: a neighbour's passages are often in a query's
    re-ranked top 100). Student scores are divided by the temperature, so an L2-normalized model reaches the
    teacher's logit range."""
    name = "tasb"
    options_class = TasbOptions

    def __init__(self, options, sampler, ranker, **kwargs):
        super().__init__(options, sampler, ranker, **kwargs)
        self.teacher = sampler.teacher

    @classmethod
    def make_sampler(cls, options, examples, corpus_ids, *, negatives, batch_size, seed):
        from ..batches import TopicBalancedSampler
        from ..clusters import read_clusters
        from ..teacher import read_teacher_scores

        if negatives != 1:
            raise InputError("the tasb recipe draws one (positive, negative) pair per query: leave --negatives at 1")
        if not options.teacher_scores or not options.clusters:
            raise InputError("the tasb recipe needs --teacher-scores (python -m pyserini_dr.rerank) and --clusters "
                             "(python -m pyserini_dr.train.clusters)")
        return TopicBalancedSampler(examples, corpus_ids, clusters=read_clusters(options.clusters),
                                    teacher=read_teacher_scores(options.teacher_scores), batch_size=batch_size,
                                    seed=seed, bins=options.margin_bins)

    def prepare(self, groups):
        """Teacher margins t(q_i, p_i+) - t(q_i, d_j) for every passage d_j of the batch, and which are known."""
        docs = [d for g in groups for d in [g.positive, *g.negatives]]
        size = len(docs) // len(groups)
        margin = torch.zeros(len(groups), len(docs))
        known = torch.zeros(len(groups), len(docs), dtype=torch.bool)
        for i, g in enumerate(groups):
            t = self.teacher.get(g.query_id, {})
            if g.positive not in t:
                continue
            for j, d in enumerate(docs):
                if d in t and j != i * size and d not in self.sampler.positives[g.query_id]:
                    margin[i, j] = t[g.positive] - t[d]
                    known[i, j] = True
        own = torch.zeros_like(known)
        for i in range(len(groups)):
            own[i, i * size + 1:(i + 1) * size] = True
        is_positive = (torch.arange(len(docs)) % size == 0)[None, :]
        in_batch = known & ~own
        return {"margin": margin, "pair": known & own, "in_batch_positives": in_batch & is_positive,
                "in_batch_negatives": in_batch & ~is_positive}

    def loss(self, q, p, groups, extras):
        scores = (q.float() @ p.float().T) / self.temperature
        size = p.shape[0] // q.shape[0]
        student = scores[torch.arange(q.shape[0]), torch.arange(q.shape[0]) * size][:, None] - scores
        pair = margin_mse(student, extras["margin"], extras["pair"])
        terms = [(margin_mse(student, extras["margin"], extras[k]), extras[k].any().float())
                 for k in ("in_batch_positives", "in_batch_negatives")]
        in_batch = sum(t * present for t, present in terms) / sum(p for _, p in terms).clamp(min=1)
        return pair + self.options.in_batch_weight * in_batch
