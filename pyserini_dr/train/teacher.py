"""Teacher scores: a TREC run of a teacher's scores (``python -m pyserini_dr.rerank`` for a cross-encoder,
``python -m pyserini_dr.train.hybrid_teacher`` for the dense + BM25 ensemble), as qid -> {docid: score}.

Every distillation recipe reads them; a (query, passage) pair the file lacks has no teacher score and its terms are
left out of the loss. Both teacher commands take the pairs to score the same way (``pyserini_dr.rerank.options``).
"""
from __future__ import annotations

from ..data.runs import read_run

TeacherScores = dict[str, dict[str, float]]


def read_teacher_scores(path) -> TeacherScores:
    return {qid: dict(hits) for qid, hits in read_run(path).items()}
