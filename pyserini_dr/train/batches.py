"""Seeded training groups and their tokenized batches.

Epoch e's query order and each group's positive and negatives depend only on (seed, e, query id), so a run resumed
mid-epoch sees exactly the batches an uninterrupted run would. Token ids are cached per text: a corpus passage is
tokenized once, with the family's conventions (``DenseEncoder``).
"""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ..encode.encoder import DenseEncoder
from ..errors import InputError
from .examples import TrainExample


@dataclass
class Group:
    query_id: str
    query: str
    positive: str
    negatives: list[str]


class GroupSampler:
    """Batches of (query, positive, negatives) groups; ``negatives`` per group come from the example's pool (a
    recipe may replace the pools between steps, e.g. ANCE's refresh), topped up with random corpus documents when a
    pool is short."""

    def __init__(self, examples: list[TrainExample], corpus_ids: list[str], *, negatives: int, batch_size: int,
                 seed: int = 42):
        self.examples = examples
        self.corpus_ids = corpus_ids
        self.negatives = negatives
        self.batch_size = batch_size
        self.seed = seed
        self.positives = {ex.query_id: set(ex.positives) for ex in examples}
        # a hand-written file may list a positive among the negatives: it is never drawn as one
        self.pools = {ex.query_id: [d for d in ex.negatives if d not in self.positives[ex.query_id]]
                      for ex in examples}
        fewest = len(set(corpus_ids)) - max((len(p) for p in self.positives.values()), default=0)
        if negatives > fewest:
            raise InputError(f"{negatives} negatives per query asked, but the corpus has only {fewest} documents "
                             "that are not positives of some query")

    def batches_per_epoch(self) -> int:
        return len(self.examples) // self.batch_size  # the last partial batch is dropped, as in-batch training does

    def _group(self, ex: TrainExample, epoch: int) -> Group:
        rng = random.Random(f"{self.seed}:{epoch}:{ex.query_id}")
        positive = ex.positives[rng.randrange(len(ex.positives))]
        pool = self.pools[ex.query_id]
        picked = rng.sample(pool, self.negatives) if len(pool) >= self.negatives else list(pool)
        while len(picked) < self.negatives:  # a short pool: random corpus documents, never a positive
            doc = self.corpus_ids[rng.randrange(len(self.corpus_ids))]
            if doc not in self.positives[ex.query_id] and doc not in picked:
                picked.append(doc)
        return Group(ex.query_id, ex.query, positive, picked)

    def order(self, epoch: int) -> list[int]:
        order = list(range(len(self.examples)))
        random.Random(f"{self.seed}:{epoch}").shuffle(order)
        return order

    def _epoch_order(self, epoch: int) -> list[int]:
        """``order(epoch)``, computed once per epoch (a shuffle of every query per batch adds up at MS MARCO size)."""
        cached = getattr(self, "_order_cache", None)
        if cached is None or cached[0] != epoch:
            cached = self._order_cache = (epoch, self.order(epoch))
        return cached[1]

    def batch(self, epoch: int, index: int) -> list[Group]:
        rows = self._epoch_order(epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        return [self._group(self.examples[i], epoch) for i in rows]


class Tokenized:
    """Token ids of queries and corpus passages, cached, padded into tensors on demand."""

    def __init__(self, encoder: DenseEncoder, corpus: dict[str, tuple[str, str]]):
        self.encoder = encoder
        self.corpus = corpus
        self._passages: dict[str, tuple] = {}

    def warm(self, docids) -> None:
        """Tokenize these passages now, in one call (the Rust tokenizer's batch mode uses every core)."""
        missing = [d for d in dict.fromkeys(docids) if d not in self._passages]
        if missing:
            self._add(missing)

    def _add(self, docids: list[str]) -> None:
        features = self.encoder.passage_ids([self.corpus[d] for d in docids])
        types = features.get("token_type_ids")
        for i, d in enumerate(docids):
            self._passages[d] = (features["input_ids"][i], types[i] if types else None)

    def queries(self, texts: list[str]) -> dict:
        return self.encoder.tokenize_queries(texts)

    def passages(self, docids: list[str]) -> dict:
        missing = [d for d in dict.fromkeys(docids) if d not in self._passages]
        if missing:
            self._add(missing)
        rows = [self._passages[d] for d in docids]
        has_types = rows[0][1] is not None
        return self.encoder.pad({"input_ids": [r[0] for r in rows],
                                 "token_type_ids": [r[1] for r in rows] if has_types else None})


@dataclass
class Batch:
    groups: list[Group]
    queries: dict
    passages: dict  # per group: positive then its negatives
    extras: dict = None  # the recipe's per-batch tensors (masks), built off the training thread

    def to(self, device) -> "Batch":
        move = lambda d: {k: v.to(device, non_blocking=True) for k, v in (d or {}).items()}  # noqa: E731
        return Batch(self.groups, move(self.queries), move(self.passages), move(self.extras))


def false_negative_mask(groups: list[Group], positives: dict[str, set[str]], device, *,
                        in_batch: bool = True) -> torch.Tensor:
    """[B, B*G] True where a passage must not count as a negative of a query: it is relevant to that query but is not
    its target row (another query's positive), or, with ``in_batch`` off, it belongs to another query's group."""
    docs = [d for g in groups for d in [g.positive, *g.negatives]]
    group = len(docs) // len(groups)
    mask = np.zeros((len(groups), len(docs)), dtype=bool)
    for i, g in enumerate(groups):
        rel = positives[g.query_id]
        mask[i] = [d in rel for d in docs]
        mask[i, i * group] = False
        if not in_batch:
            mask[i, :i * group] = True
            mask[i, (i + 1) * group:] = True
    return torch.from_numpy(mask).to(device)


def make_batch(tokens: Tokenized, groups: list[Group], *, with_passages: bool = True) -> Batch:
    queries = tokens.queries([g.query for g in groups])
    passages = tokens.passages([d for g in groups for d in [g.positive, *g.negatives]]) if with_passages else {}
    return Batch(groups, queries, passages)


class Prefetcher:
    """Tokenizes the next batch on a background thread while the device trains on this one."""

    def __init__(self, make):
        self.make = make
        self.pool = ThreadPoolExecutor(1)
        self.pending = {}

    def get(self, key, next_key=None):
        future = self.pending.pop(key, None)
        result = future.result() if future is not None else self.make(key)
        if next_key is not None and next_key not in self.pending:
            self.pending[next_key] = self.pool.submit(self.make, next_key)
        return result

    def clear(self):
        """Drop prefetched batches (a recipe changed the negatives); one already running is waited for, since the
        fast tokenizer must not be used from two threads at once."""
        for f in self.pending.values():
            if not f.cancel():
                f.result()
        self.pending.clear()


class TopicBalancedSampler(GroupSampler):
    """TAS-Balanced (Hofstätter et al., SIGIR 2021; sebastian-hofstaetter/matchmaker
    matchmaker/dataloaders/tas_balanced_training_loader.py, ``data_loader_subprocess``, clusters_per_batch 1). Each
    batch draws a cluster uniformly at random and takes batch-size of its queries at random; a cluster smaller than
    that gives all of its queries and another cluster is drawn (with replacement) to fill the batch. Clusters are
    drawn afresh for every batch, so an "epoch" is len(examples) // batch_size such batches, not a pass over every
    query. Each query's (positive, negative) pair is drawn balanced over the teacher's margin t(q, p+) - t(q, p-):
    the query's pairs are put in ``bins`` equal-width bins, a non-empty bin is drawn uniformly, then a pair in it. A
    query whose pairs have no teacher scores falls back to a uniform draw. Batch (epoch, index) depends only on the
    seed, the epoch and the index (an exact resume)."""

    def __init__(self, examples, corpus_ids, *, clusters: dict[str, int], teacher: dict[str, dict[str, float]],
                 batch_size: int, seed: int = 42, bins: int = 10):
        super().__init__(examples, corpus_ids, negatives=1, batch_size=batch_size, seed=seed)
        missing = [ex.query_id for ex in examples if ex.query_id not in clusters]
        if missing:
            raise InputError(f"{len(missing)} training queries have no topic cluster (the first: {missing[0]})")
        self.clusters = clusters
        self.teacher = teacher
        self.bins = bins
        members: dict[int, list[int]] = {}
        for i, ex in enumerate(examples):
            members.setdefault(clusters[ex.query_id], []).append(i)
        self.members = [members[c] for c in sorted(members)]

    def batch(self, epoch: int, index: int) -> list[Group]:
        rng = random.Random(f"{self.seed}:{epoch}:{index}:topics")
        rows: list[int] = []
        while len(rows) < self.batch_size:
            cluster = self.members[rng.randrange(len(self.members))]
            rows += rng.sample(cluster, min(self.batch_size - len(rows), len(cluster)))
        return [self._group(self.examples[i], f"{epoch}:{index}:{k}") for k, i in enumerate(rows)]

    def _group(self, ex, key) -> Group:
        """``key`` (epoch, batch, position) seeds the draw: a query drawn twice gets two independent pairs."""
        t = self.teacher.get(ex.query_id, {})
        pairs = [(p, n, t[p] - t[n]) for p in ex.positives if p in t for n in self.pools[ex.query_id] if n in t]
        if not pairs:
            return super()._group(ex, key)
        rng = random.Random(f"{self.seed}:{key}:{ex.query_id}")
        low, high = min(m for *_, m in pairs), max(m for *_, m in pairs)
        width = (high - low) / self.bins or 1.0
        binned: dict[int, list] = {}
        for pair in pairs:
            binned.setdefault(min(int((pair[2] - low) / width), self.bins - 1), []).append(pair)
        positive, negative, _ = rng.choice(binned[rng.choice(sorted(binned))])
        return Group(ex.query_id, ex.query, positive, [negative])
