"""Runs: TREC (``qid Q0 docid rank score tag``) and MS MARCO (``qid<TAB>docid<TAB>rank``)."""
from __future__ import annotations

import math
from typing import Iterable, Iterator

from ..errors import InputError, where
from .lines import numbered_lines

Hits = list[tuple[str, float]]
Run = dict[str, Hits]
RankedRun = dict[str, list[tuple[str, float, int]]]  # a run file's lines in order, with their ranks


def sort_hits(hits: Iterable[tuple[str, float]]) -> Hits:
    """Deterministic order: score descending, then docid ascending."""
    return sorted(hits, key=lambda h: (-h[1], h[0]))


def remove_duplicates(run: Run) -> Run:
    """Each query's hits without a docid seen higher up (Pyserini's ``--remove-duplicates``)."""
    def first(hits):
        seen = set()
        return [h for h in hits if not (h[0].strip() in seen or seen.add(h[0].strip()))]
    return {qid: first(hits) for qid, hits in run.items()}


def max_passage(run: Run, delimiter: str = "#", hits: int = 100) -> Run:
    """Pyserini's ``--max-passage``: a hit's document is its docid up to ``delimiter``; each document's best passage
    stands for it, with that passage's score; at most ``hits`` documents a query."""
    def best(ranked):
        seen, kept = set(), []
        for docid, score in sort_hits(ranked):
            doc = docid.split(delimiter)[0] if delimiter else docid.strip()
            if doc not in seen and len(kept) < hits:
                seen.add(doc)
                kept.append((doc, score))
        return kept
    return {qid: best(ranked) for qid, ranked in run.items()}


def unit_interval(run: Run) -> Run:
    """Inner products mapped to [0, 1] as (1 + s) / 2 in float32 (Pyserini's ``--normalize-distances``, Lucene's
    dot-product score)."""
    import numpy as np

    half, one = np.float32(2.0), np.float32(1.0)
    return {qid: [(d, float((one + np.float32(s)) / half)) for d, s in hits] for qid, hits in run.items()}


def read_run(path) -> Run:
    """qid -> [(docid, score)] sorted; an MS MARCO run gets score 1/rank. Column count must be 6 or 3 throughout."""
    run: Run = {}
    for qid, docid, score, _ in _run_lines(path):
        run.setdefault(qid, []).append((docid, score))
    return {qid: sort_hits(hits) for qid, hits in run.items()}


def read_ranked_run(path) -> RankedRun:
    """qid -> [(docid, score, rank)] in the file's order, with the file's ranks: what ``pyserini.fusion`` fuses (its
    RRF takes the rank column, its depth the first lines of each query)."""
    run: RankedRun = {}
    for qid, docid, score, rank in _run_lines(path):
        if rank is None:
            raise InputError(f"{path}: query {qid}, document {docid}: the rank column is not a whole number")
        run.setdefault(qid, []).append((docid, score, rank))
    return run


def _run_lines(path) -> Iterator[tuple[str, str, float, int | None]]:
    """(qid, docid, score, rank) of each line, every line checked; refuses what trec_eval would (a document ranked
    twice for a query) or would score wrongly (nan)."""
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
            if width == 6:  # trec_eval ignores the rank column: only fusion by rank reads it (None: not a number)
                qid, docid, score = cols[0], cols[2], float(cols[4])
                rank = int(cols[3]) if cols[3].isdigit() else None
            else:
                qid, docid, rank = cols[0], cols[1], int(cols[2])
                score = 1.0 / rank
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{where(path, no)}: bad {'score' if width == 6 else 'rank'} in {line[:80]!r}") from None
        if math.isnan(score):
            raise InputError(f"{where(path, no)}: score is not a number (nan)")
        if (qid, docid) in seen:
            raise InputError(f"{where(path, no)}: document {docid} is ranked twice for query {qid} (trec_eval "
                             "refuses such a run)")
        seen.add((qid, docid))
        yield qid, docid, score, rank
    if width is None:
        raise InputError(f"{path}: empty run")


def write_run(run: Run, path, *, output_format: str = "trec", tag: str = "pyserini-dr",
              hits: int | None = None, full_precision: bool = False) -> int:
    """Write atomically in TREC or MS MARCO format with deterministic tie-breaking; returns the line count. Scores
    have 6 decimals, as Pyserini's searchers write them, or with ``full_precision`` every digit (as
    ``pyserini.fusion`` writes fused scores: 6 decimals would tie scores that differ)."""
    from ..files import atomic_write

    if output_format not in ("trec", "msmarco"):
        raise InputError(f"unknown output format {output_format!r} (trec or msmarco)")
    lines = 0
    with atomic_write(path) as f:
        for qid, qhits in run.items():
            for rank, (docid, score) in enumerate(sort_hits(qhits)[:hits], 1):
                if math.isnan(score):  # sorted anywhere, it would rank a document by chance; read_run refuses it too
                    raise InputError(f"query {qid}, document {docid}: the score is nan (nan vectors or a broken "
                                     f"model?); {path} is not written")
                if output_format == "trec":
                    shown = repr(float(score)) if full_precision else f"{score:.6f}"
                    f.write(f"{qid} Q0 {docid} {rank} {shown} {tag}\n")
                else:
                    f.write(f"{qid}\t{docid}\t{rank}\n")
                lines += 1
    return lines
