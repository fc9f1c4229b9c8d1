"""Training groups in Tevatron's JSONL: ``{"query_id", "query_text", "positive_document_ids",
"negative_document_ids"}``, one line per query: the file format, read by the trainers and by the cross-encoder that
scores their pairs (``pyserini_dr.train.examples`` builds them from topics, qrels and runs)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import InputError, where
from .lines import json_lines


@dataclass
class TrainExample:
    query_id: str
    query: str
    positives: list[str]
    negatives: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"query_id": self.query_id, "query_text": self.query, "positive_document_ids": self.positives,
                "negative_document_ids": self.negatives}


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
