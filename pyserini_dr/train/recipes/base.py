"""What every recipe is: its options (a dataclass whose fields carry their flags), its sampler, the hooks the trainer
calls around each step, the representations it asks of the model and its loss over them.

The trainer calls ``represent`` under its autocast, gathers the representations across ranks (unless the recipe's
``local_loss``), and calls ``loss``: a recipe's loss never sees the trainer; the gradient cache and the gathering
stay in the trainer. A new recipe is one module of this package (docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..batches import Batch, GroupSampler, make_batch
from ..dense_ranking import DenseRanker
from ..negatives import negatives_from_ranking
from ...arg_types import positive


def flag(default, **argparse_kwargs):
    """A recipe option: the field's default, and how ``--field-name`` is declared (argparse's keywords)."""
    return field(default=default, metadata={"argparse": argparse_kwargs})


@dataclass
class NoOptions:
    """A recipe without options of its own."""


@dataclass
class MiningOptions:
    depth: int = flag(200, type=positive, help="ance/star: negatives mined from this depth")  # DRhard and ANCE: top 200


@dataclass
class TeacherOptions:
    teacher_scores: str | None = flag(None, help="tasb: the teacher's run over the training pairs (pyserini_dr.rerank)")


class Recipe:
    name = ""
    options_class = NoOptions
    grad_cache = True               # representations of one row per query / passage: the gradient cache applies
    local_loss = False              # the loss covers only this rank's examples (no gathering)
    model_kind = "bi-encoder"       # bi-encoder | cross-encoder | bottleneck: what the trainer is built around
    needs_passages = True           # batches carry tokenized passages
    uses_negatives = True           # groups carry hard negatives
    untie = False
    freeze_passages = False
    mines_negatives = False         # replaces the training file's negative pools (ANCE, STAR): checkpoints keep them
    normalized_temperature = 0.05   # the default --temperature for an L2-normalized model (1 otherwise)

    def __init__(self, options, sampler: GroupSampler, ranker: DenseRanker, *, temperature: float = 1.0,
                 seed: int = 42):
        self.options = options
        self.sampler = sampler
        self.ranker = ranker
        self.temperature = temperature  # score = q.p / temperature
        self.seed = seed

    @classmethod
    def make_sampler(cls, options, examples, corpus_ids, *, negatives: int, batch_size: int,
                     seed: int) -> GroupSampler:
        return GroupSampler(examples, corpus_ids, negatives=negatives, batch_size=batch_size, seed=seed)

    # -- around the steps (``trainer``: its public attributes) ---------------------------------------------------
    def start(self, trainer) -> None:
        """Before the first step of a fresh run."""

    def resume(self, trainer) -> None:
        """After a checkpoint is loaded."""

    def before_step(self, trainer, step: int) -> bool:
        """Returns True when the negatives changed (prefetched batches are dropped)."""
        return False

    def finish(self, trainer) -> None:
        pass

    def summary(self, trainer) -> dict:
        return {}

    def warm(self, tokens) -> None:
        """Tokenize the passages the batches will carry, in one call, before training."""
        if self.needs_passages and tokens is not None:
            tokens.warm([d for ex in self.sampler.examples for d in ex.positives] +
                        [d for pool in self.sampler.pools.values() for d in pool])

    # -- one batch -------------------------------------------------------------------------------------------------
    def make_batch(self, trainer, groups) -> Batch:
        """This rank's groups, tokenized (on the prefetch thread)."""
        return make_batch(trainer.tokens, groups, with_passages=self.needs_passages)

    def prepare(self, groups) -> dict:
        """CPU tensors the loss needs for this global batch (masks); runs on the tokenizing thread."""
        return {}

    def represent(self, model, batch: Batch) -> tuple:
        """The model's representations of this rank's share of the batch (one row per query / passage, or None):
        what the trainer gathers and gives to ``loss``."""
        q = model.encode_queries(batch.queries)
        p = model.encode_passages(batch.passages) if self.needs_passages else None
        return q, p

    def loss(self, q, p, groups, extras: dict) -> torch.Tensor:
        """The loss of the global batch ``groups`` from the gathered representations (``represent``'s)."""
        raise NotImplementedError

    # -- checkpoints, the dev evaluation, mining -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Mined pools; the training file's own are read again on resume (a checkpoint only continues a run on
        the same file), so a checkpoint does not carry every query's negatives."""
        return {"pools": self.sampler.pools} if self.mines_negatives else {}

    def load_state_dict(self, state: dict) -> None:
        if self.mines_negatives:
            self.sampler.pools = state["pools"]

    def fixed_passages(self):
        """Passage vectors that stay valid while the model trains (a frozen passage tower's), for the dev
        evaluation to rank instead of encoding the corpus again; None where the passages move."""
        return None

    def passages_encoded(self, trainer, docs) -> None:
        """The dev evaluation has just encoded the corpus with the current weights (``docs``), before step
        ``trainer.step``: a recipe that would encode it again before that step may keep them."""

    def mine(self, model, queries: dict[str, str], docs=None) -> dict[str, list[str]]:
        """New negative pools from the model's own exact ranking of the training queries (``options.depth``)."""
        rankings = self.ranker.rankings(model, queries, self.options.depth, docs)
        return {qid: negatives_from_ranking([d for d, _ in hits], self.sampler.positives[qid],
                                            depth=self.options.depth) for qid, hits in rankings.items()}

    def train_queries(self) -> dict[str, str]:
        return {ex.query_id: ex.query for ex in self.sampler.examples}
