"""``star`` (Zhan et al., SIGIR 2021): static hard negatives from the starting (warm-up) model's index plus random
in-batch negatives, DRhard's pairwise loss."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import pairwise_softmax
from .base import MiningOptions, Recipe


@dataclass
class StarOptions(MiningOptions):
    pass


class STAR(Recipe):
    name = "star"
    options_class = StarOptions
    mines_negatives = True

    def start(self, trainer):
        self.sampler.pools = self.mine(trainer.model, self.train_queries())  # static: mined once

    def prepare(self, groups):
        """1 keeps a (query, negative) pair: the negative is not relevant to the query (DRhard's pair masks)."""
        rel = [self.sampler.positives[x.query_id] for x in groups]
        hard_docs = [d for x in groups for d in x.negatives]
        return {"in_batch": torch.tensor([[float(y.positive not in r) for y in groups] for r in rel]),
                "hard": torch.tensor([[float(d not in r) for d in hard_docs] for r in rel])}

    def loss(self, q, p, groups, extras):
        g = p.shape[0] // q.shape[0]
        rows = p.view(q.shape[0], g, -1)
        positives, negatives = rows[:, 0], rows[:, 1:].reshape(-1, p.shape[1])
        return pairwise_softmax(q, positives, negatives, temperature=self.temperature,
                                in_batch_mask=extras["in_batch"], hard_mask=extras["hard"])
