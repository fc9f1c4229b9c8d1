"""A dense search's results as arrays, written to a run file without a Python object per hit.

At MS MARCO scale (6,980 queries x 1,000 hits) building ``(docid, score)`` tuples, sorting each query again and
formatting line by line took most of ``search.faiss``'s wall time; the backends already return each query's hits
sorted by score, so only ties need the docid order, and lines are made a query at a time.
"""
from __future__ import annotations


import numpy as np

from .runs import Run


class RankedArrays:
    """``rows`` (Q x k, positions in ``docids``; -1 = no hit) and ``scores`` (Q x k, float32), each query's hits in
    run order: score descending, ties by docid ascending (``runs.sort_hits``'s order). ``keep`` masks hits left out
    (padding, ``--remove-query``)."""

    def __init__(self, qids: list[str], docids: np.ndarray, rows: np.ndarray, scores: np.ndarray,
                 keep: np.ndarray | None = None):
        self.qids, self.docids = qids, docids
        keep = rows >= 0 if keep is None else keep & (rows >= 0)
        self.rows, self.scores, self.keep = _order_ties(docids, rows, scores, keep)

    def hits(self, i: int) -> tuple[list[str], np.ndarray]:
        keep = self.keep[i]
        return self.docids[self.rows[i][keep]].tolist(), self.scores[i][keep]

    def to_run(self) -> Run:
        run: Run = {}
        for i, qid in enumerate(self.qids):
            docs, scores = self.hits(i)
            run[qid] = list(zip(docs, scores.tolist()))
        return run

    def write(self, path, *, output_format: str = "trec", tag: str = "pyserini-dr") -> int:
        """Atomically, as ``runs.write_run`` writes the same hits (6-decimal scores); returns the line count."""
        from ..errors import InputError
        from ..files import atomic_write

        if output_format not in ("trec", "msmarco"):
            raise InputError(f"unknown output format {output_format!r} (trec or msmarco)")
        width = self.rows.shape[1] if self.rows.ndim == 2 else 0
        ranks = [str(r) for r in range(1, width + 1)]
        lines = 0
        with atomic_write(path) as f:
            for i, qid in enumerate(self.qids):
                docs, scores = self.hits(i)
                n = len(docs)
                if output_format == "trec":
                    f.write("".join(map(f"{qid} Q0 {{}} {{}} {{:.6f}} {tag}\n".format, docs, ranks[:n],
                                        scores.tolist())))
                else:
                    f.write("".join(map(f"{qid}\t{{}}\t{{}}\n".format, docs, ranks[:n])))
                lines += n
        return lines


def _order_ties(docids: np.ndarray, rows: np.ndarray, scores: np.ndarray, keep: np.ndarray):
    """The backends sort by score only; a query whose kept hits hold equal scores gets those re-ordered by docid
    (rare: whole-array checks find them, Python touches only those queries)."""
    if rows.size == 0:
        return rows, scores, keep
    valid = np.where(keep, scores, -np.inf)
    if np.any(valid[:, 1:] > valid[:, :-1]):  # not sorted by score: a backend that returns unsorted hits
        order = np.argsort(-valid, axis=1, kind="stable")
        rows, scores, keep = (np.take_along_axis(a, order, 1) for a in (rows, scores, keep))
        valid = np.where(keep, scores, -np.inf)
    tied = np.any((valid[:, 1:] == valid[:, :-1]) & keep[:, 1:], axis=1)
    if not tied.any():
        return rows, scores, keep
    rows, scores = rows.copy(), scores.copy()
    # queries whose kept hits are a prefix (all but those --remove-query dropped a hit from): only the tied hits
    # are re-ordered, by one lexsort over all such queries
    prefix = tied & ~np.any(keep[:, 1:] & ~keep[:, :-1], axis=1)
    pair = (valid[:, 1:] == valid[:, :-1]) & keep[:, 1:] & prefix[:, None]
    member = np.zeros_like(keep)
    member[:, 1:] |= pair
    member[:, :-1] |= pair
    qi, pos = np.nonzero(member)  # row-major: each query's tied hits in rank order, so in score order
    if len(qi):
        names = docids[rows[qi, pos]].astype(str)
        order = np.lexsort((names, -scores[qi, pos], qi))
        rows[qi, pos] = rows[qi[order], pos[order]]
        scores[qi, pos] = scores[qi[order], pos[order]]
    for i in np.flatnonzero(tied & ~prefix):  # a gap among the kept hits: rare, sorted in Python
        k = np.flatnonzero(keep[i])
        order = sorted(range(len(k)), key=lambda j: (-float(scores[i, k[j]]), docids[rows[i, k[j]]]))
        rows[i, k] = rows[i, k][order]
        scores[i, k] = scores[i, k][order]
    return rows, scores, keep
