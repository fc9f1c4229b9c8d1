"""Relevance judgements: BEIR TSV (``query-id corpus-id score`` with a header) or TREC (``qid 0 docid rel``)."""
from __future__ import annotations

from ..errors import InputError, where
from .lines import numbered_lines

Qrels = dict[str, dict[str, int]]


def read_qrels(path) -> Qrels:
    """qid -> {docid: relevance}; the format (BEIR, 3 columns, or TREC, 4) is told from the first line and held
    throughout: a TREC line that lost a column is an error, not a BEIR line."""
    qrels: Qrels = {}
    width = None
    for no, line in numbered_lines(path):
        cols = line.split()
        if no == 1 and cols[:2] == ["query-id", "corpus-id"]:
            continue  # BEIR header
        if width is None and len(cols) in (3, 4):
            width = len(cols)
        if len(cols) != width:
            expected = f"{width} columns like the first line" if width else "3 (BEIR) or 4 (TREC) qrels columns"
            raise InputError(f"{where(path, no)}: expected {expected}, found {len(cols)}")
        qid, docid, rel = (cols[0], cols[2], cols[3]) if width == 4 else cols
        grade, judged = _grade(rel, path, no), qrels.setdefault(qid, {})
        if judged.get(docid, grade) != grade:  # which grade counts would depend on the reader: trec_eval keeps one
            raise InputError(f"{where(path, no)}: query {qid}, document {docid} judged again with another grade "
                             f"({judged[docid]}, then {grade})")
        judged[docid] = grade
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels


def _grade(text: str, path, no: int) -> int:
    """A relevance grade: a whole number (``2`` or ``2.0``), as trec_eval reads them."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value.is_integer():  # also nan and inf
        raise InputError(f"{where(path, no)}: relevance {text!r} is not a whole number")
    return int(value)


def write_trec_qrels(qrels: Qrels, path) -> None:
    from ..files import atomic_write

    with atomic_write(path) as f:
        for qid, docs in qrels.items():
            for docid, rel in docs.items():
                f.write(f"{qid} 0 {docid} {rel}\n")
