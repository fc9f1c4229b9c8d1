"""Training groups in Tevatron's JSONL: ``{"query_id", "query_text", "positive_document_ids",
"negative_document_ids"}``, one line per query, read beside a corpus.

Built from topics + qrels (relevance > 0 is positive) and optional mined negatives; a positive is never kept as a
negative. ``split_dev`` carves a deterministic dev split out of the training queries for tuning.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..data.lines import json_lines
from ..data.qrels import Qrels
from ..errors import InputError, where


@dataclass
class TrainExample:
    query_id: str
    query: str
    positives: list[str]
    negatives: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"query_id": self.query_id, "query_text": self.query, "positive_document_ids": self.positives,
                "negative_document_ids": self.negatives}


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


def write_examples(examples: list[TrainExample], path) -> None:
    """One JSON line per example, gzip-compressed where ``path`` ends in .gz (as ``read_examples`` reads it)."""
    import gzip
    import io

    from ..files import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        # no file name or time in the gzip header: the same examples give the same bytes
        binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if str(path).endswith(".gz") else raw
        with io.TextIOWrapper(binary, encoding="utf-8") as f:
            for ex in examples:
                f.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")


def read_examples(path) -> list[TrainExample]:
    examples = []
    for no, obj in json_lines(path):
        qid = obj.get("query_id")
        query = obj.get("query_text", obj.get("query"))
        positives = obj.get("positive_document_ids")
        negatives = obj.get("negative_document_ids", [])
        if qid is None or not isinstance(query, str):
            raise InputError(f"{where(path, no)}: needs query_id and query_text")
        if not positives or not isinstance(positives, list) or not isinstance(negatives, list):
            raise InputError(f"{where(path, no)}: positive_document_ids must be a non-empty list "
                             "(negative_document_ids a list)")
        examples.append(TrainExample(str(qid), query, [str(d) for d in positives], [str(d) for d in negatives]))
    if not examples:
        raise InputError(f"{path}: no training examples")
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

