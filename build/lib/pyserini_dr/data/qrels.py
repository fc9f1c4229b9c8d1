"""Relevance judgements: BEIR TSV (``query-id corpus-id score`` with a header) or TREC (``qid 0 docid rel``)."""
from __future__ import annotations

from ..errors import InputError, where
from .lines import numbered_lines

Qrels = dict[str, dict[str, int]]


def read_qrels(path) -> Qrels:
    """qid -> {docid: relevance}; the format is told from each line's column count."""
    qrels: Qrels = {}
    for no, line in numbered_lines(path):
        cols = line.split()
        if no == 1 and cols[:2] == ["query-id", "corpus-id"]:
            continue  # BEIR header
        if len(cols) == 4:
            qid, _, docid, rel = cols
        elif len(cols) == 3:
            qid, docid, rel = cols
        else:
            raise InputError(f"{where(path, no)}: expected 3 (BEIR) or 4 (TREC) qrels columns, found {len(cols)}")
        try:
            qrels.setdefault(qid, {})[docid] = int(float(rel))
        except ValueError:
            raise InputError(f"{where(path, no)}: relevance {rel!r} is not a number") from None
    if not qrels:
        raise InputError(f"{path}: no judgements")
    return qrels


def write_trec_qrels(qrels: Qrels, path) -> None:
    from ..files import atomic_write

    with atomic_write(path) as f:
        for qid, docs in qrels.items():
            for docid, rel in docs.items():
                f.write(f"{qid} 0 {docid} {rel}\n")
