"""Runs: TREC (``qid Q0 docid rank score tag``) and MS MARCO (``qid<TAB>docid<TAB>rank``)."""
from __future__ import annotations

import math
from typing import Iterable

from ..errors import InputError, where
from .lines import numbered_lines

Hits = list[tuple[str, float]]
Run = dict[str, Hits]


def sort_hits(hits: Iterable[tuple[str, float]]) -> Hits:
    """Deterministic order: score descending, then docid ascending."""
    return sorted(hits, key=lambda h: (-h[1], h[0]))


def read_run(path) -> Run:
    """qid -> [(docid, score)] sorted; an MS MARCO run gets score 1/rank. Column count must be 6 or 3 throughout."""
    run: Run = {}
    seen: set[tuple[str, str]] = set()
    width = None
    for no, line in numbered_lines(path):
        cols = line.split()
        if width is None:
            if len(cols) not in (3, 6):
                raise InputError(f"{where(path, no)}: a run line has 6 (TREC) or 3 (MS MARCO) columns, found {len(cols)}")
            width = len(cols)
        elif len(cols) != width:
            raise InputError(f"{where(path, no)}: expected {width} columns like the first line, found {len(cols)}")
        try:
            if width == 6:
                qid, docid, score = cols[0], cols[2], float(cols[4])
            else:
                qid, docid, score = cols[0], cols[1], 1.0 / int(cols[2])
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{where(path, no)}: bad {'score' if width == 6 else 'rank'} in {line[:80]!r}") from None
        if math.isnan(score):
            raise InputError(f"{where(path, no)}: score is not a number (nan)")
        if (qid, docid) in seen:
            raise InputError(f"{where(path, no)}: document {docid} is ranked twice for query {qid} (trec_eval "
                             "refuses such a run)")
        seen.add((qid, docid))
        run.setdefault(qid, []).append((docid, score))
    if not run:
        raise InputError(f"{path}: empty run")
    return {qid: sort_hits(hits) for qid, hits in run.items()}


def write_run(run: Run, path, *, output_format: str = "trec", tag: str = "pyserini-dr",
              hits: int | None = None) -> int:
    """Write atomically in TREC or MS MARCO format with deterministic tie-breaking; returns the line count."""
    from ..files import atomic_write

    if output_format not in ("trec", "msmarco"):
        raise InputError(f"unknown output format {output_format!r} (trec or msmarco)")
    lines = 0
    with atomic_write(path) as f:
        for qid, qhits in run.items():
            for rank, (docid, score) in enumerate(sort_hits(qhits)[:hits], 1):
                if output_format == "trec":
                    f.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")
                else:
                    f.write(f"{qid}\t{docid}\t{rank}\n")
                lines += 1
    return lines
