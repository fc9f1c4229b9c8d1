"""``cross-encoder``: a BERT_CAT re-ranker trained on the same groups (the teacher of the distillation recipes)."""
from __future__ import annotations

import torch

from ..batches import Batch
from .base import Recipe


class CrossEncoderTraining(Recipe):
    """A BERT_CAT re-ranker (the distillation teacher): each query's positive against its hard negatives, softmax
    cross-entropy over the group's scores (localized contrastive estimation, Gao et al., ECIR 2021)."""
    name = "cross-encoder"
    grad_cache = False
    model_kind = "cross-encoder"
    needs_passages = False

    def make_batch(self, trainer, groups):
        model = trainer.model
        queries = [g.query for g in groups for _ in range(1 + len(g.negatives))]
        passages = [trainer.corpus[d] for g in groups for d in [g.positive, *g.negatives]]
        return Batch(groups, model.features(queries, passages), {})

    def represent(self, model, batch):
        """Each group's scores, one row per group: [positive, negatives]."""
        return (model(batch.queries).view(len(batch.groups), -1),)

    def loss(self, scores, groups, extras):
        return torch.nn.functional.cross_entropy(scores, torch.zeros(scores.shape[0], dtype=torch.long,
                                                                        device=scores.device))
