"""``warmup`` (ANCE's BM25 warm-up; DPR): in-batch negatives + BM25 hard negatives from the training file, the
contrastive loss; its options are those of every contrastive recipe (``pair``, ``ance``, ``simlm``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..batches import false_negative_mask
from ..losses import contrastive
from .base import Recipe, flag


@dataclass
class ContrastiveOptions:
    no_in_batch: bool = flag(False, action="store_true", help="only each query's own hard negatives")


class Warmup(Recipe):
    name = "warmup"
    options_class = ContrastiveOptions

    def prepare(self, groups):
        return {"false_negatives": false_negative_mask(groups, self.sampler.positives, "cpu",
                                                       in_batch=not self.options.no_in_batch)}

    def loss(self, q, p, groups, extras):
        return contrastive(q, p, temperature=self.temperature, false_negatives=extras["false_negatives"])
