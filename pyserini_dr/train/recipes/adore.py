"""``adore`` (Zhan et al., SIGIR 2021): only the query encoder trains, against the fixed passage vectors of the
starting (STAR) model; each step retrieves the top ``retrieve_depth`` for the current queries and applies the
rank-weighted pairwise loss with a metric cut."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import rank_weighted_pairwise
from .base import Recipe, flag
from ...arg_types import positive


@dataclass
class AdoreOptions:
    retrieve_depth: int = flag(200, type=positive, help="adore: documents retrieved per step")
    metric_cut: int | None = flag(200, type=positive, help="adore: MRR cut of the pair weights")  # DRhard's passage cut


class ADORE(Recipe):
    name = "adore"
    options_class = AdoreOptions
    needs_passages = False
    uses_negatives = False
    untie = True
    freeze_passages = True

    def start(self, trainer):
        self.docs = self.ranker.encode_corpus(trainer.model)  # the fixed (STAR) passage vectors
        self.index_of = {d: i for i, d in enumerate(self.ranker.corpus_ids)}

    resume = start

    def fixed_passages(self):
        return self.docs

    def loss(self, q, p, groups, extras):
        _, retrieved = self.ranker.top_k(q.detach(), self.docs, self.options.retrieve_depth)
        retrieved = retrieved.tolist()  # one device-to-host copy for the batch, not one per query
        losses = []
        for i, group in enumerate(groups):
            positives = self.sampler.positives[group.query_id]
            ids = retrieved[i]
            relevant = [self.ranker.corpus_ids[j] in positives for j in ids]
            if not any(relevant):  # DRhard appends the positives the retrieval missed
                extra = [self.index_of[d] for d in sorted(positives) if d in self.index_of]
                ids, relevant = ids + extra, relevant + [True] * len(extra)
            scores = self.docs[ids] @ q[i].float()
            losses.append(rank_weighted_pairwise(scores, torch.tensor(relevant, device=q.device),
                                                 metric_cut=self.options.metric_cut,
                                                 temperature=self.temperature))
        return torch.stack(losses).mean()
