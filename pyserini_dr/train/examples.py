"""Training groups in Tevatron's JSONL: ``{"query_id", "query_text", "positive_document_ids",
"negative_document_ids"}``, one line per query, read beside a corpus.

Built from topics + qrels (relevance > 0 is positive) and optional mined negatives; a positive is never kept as a
negative. ``split_dev`` carves a deterministic dev split out of the training queries for tuning.
"""
from __future__ import annotations

import hashlib

from ..data.groups import TrainExample, read_examples, write_examples  # noqa: F401 (train's names for them)
from ..data.qrels import Qrels
from ..errors import InputError


def build_examples(topics: dict[str, str], qrels: Qrels, negatives: dict[str, list[str]] | None = None,
                   ) -> list[TrainExample]:
    """One example per judged query with at least one positive, in topic order."""
    examples = []
    for qid, text in topics.items():
        positives = [d for d, rel in qrels.get(qid, {}).items() if rel > 0]
        if not positives:
            continue
        judged = set(qrels.get(qid, {}))  # judged non-relevant documents are fine negatives, positives never
        negs = [d for d in (negatives or {}).get(qid, []) if d not in judged or qrels[qid][d] <= 0]
        examples.append(TrainExample(qid, text, positives, negs))
    if not examples:
        raise InputError("no training query has a positive judgement in the qrels")
    return examples


def repeat_examples(sources: list[list[TrainExample]], repeats: list[int]) -> list[TrainExample]:
    """Each source's examples ``repeats[i]`` times, in order: copy k > 0 of query QID is named ``QID~k``, so the
    sampler draws each copy's positive and negatives on its own. Query ids must be unique across the sources."""
    seen: set[str] = set()
    mixed = []
    for examples, times in zip(sources, repeats):
        ids = {ex.query_id for ex in examples}
        if ids & seen:
            raise InputError(f"query id {sorted(ids & seen)[0]} is in two of the inputs")
        seen |= ids
        for k in range(times):
            mixed += [TrainExample(f"{ex.query_id}~{k}" if k else ex.query_id, ex.query, ex.positives, ex.negatives)
                      for ex in examples]
    return mixed


def _bucket(qid: str) -> float:
    return int(hashlib.sha256(qid.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def split_dev(examples: list[TrainExample], fraction: float) -> tuple[list[TrainExample], list[TrainExample]]:
    """(train, dev) by a hash of the query id: the same queries land in dev whatever the file order."""
    if not 0 <= fraction < 1:
        raise InputError(f"dev fraction must be in [0, 1), got {fraction}")
    dev = [ex for ex in examples if _bucket(ex.query_id) < fraction]
    return [ex for ex in examples if _bucket(ex.query_id) >= fraction], dev


def unseen_queries(test_qrels: Qrels, train_qrels: Qrels) -> set[str]:
    """Test queries none of whose relevant documents is a train positive: memorising train positives can't help."""
    seen = {d for docs in train_qrels.values() for d, rel in docs.items() if rel > 0}
    return {q for q, docs in test_qrels.items()
            if any(rel > 0 for rel in docs.values()) and not any(rel > 0 and d in seen for d, rel in docs.items())}

