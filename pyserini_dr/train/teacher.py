"""Teacher scores: a TREC run of a cross-encoder's scores (``python -m pyserini_dr.rerank``), as qid -> {docid: score}.

Every distillation recipe reads them; a (query, passage) pair the file lacks has no teacher score and its terms are
left out of the loss.
"""
from __future__ import annotations

from ..data.runs import read_run

TeacherScores = dict[str, dict[str, float]]


def read_teacher_scores(path) -> TeacherScores:
    return {qid: dict(hits) for qid, hits in read_run(path).items()}
