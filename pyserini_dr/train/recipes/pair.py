"""``pair`` (Ren et al., ACL-Findings 2021): query-centric + alpha x passage-centric loss."""
from __future__ import annotations

from dataclasses import dataclass

from ..losses import passage_centric
from .base import flag
from .warmup import ContrastiveOptions, Warmup
from ...arg_types import non_negative_real


@dataclass
class PairOptions(ContrastiveOptions):
    pair_alpha: float = flag(0.1, type=non_negative_real, help="pair: weight of the passage-centric loss")


class PAIR(Warmup):
    """PAIR (Ren et al., ACL-Findings 2021; PaddlePaddle/Research NLP/ACL2021-PAIR/model/src/finetune/dual_encoder.py):
    (1 - alpha) x the query-centric loss (``warmup``'s) + alpha x the passage-centric loss, each positive passage
    against all queries and all hard negatives of the batch (``losses.passage_centric``). The paper's two stages are two runs: this recipe on teacher pseudo-labelled data
    (``python -m pyserini_dr.train.pseudo_labels``), then on the labelled data (``--pair-alpha 0`` fine-tunes
    with the query-centric loss alone, as its second stage does)."""
    name = "pair"
    options_class = PairOptions

    def loss(self, q, p, groups, extras):
        query_centric = super().loss(q, p, groups, extras)
        alpha = self.options.pair_alpha
        if not alpha:
            return query_centric
        return (1 - alpha) * query_centric + alpha * passage_centric(
            q, p, temperature=self.temperature,
            exclude=extras["false_negatives"])  # the passages neither loss may count as negatives
