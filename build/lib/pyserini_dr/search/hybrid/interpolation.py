"""Pyserini's dense + sparse interpolation (``pyserini.search.hybrid.HybridSearcher``), written once: the hybrid
searcher, its alpha tuner and the hybrid distillation teacher all score through it.

score = alpha * sparse + dense (or sparse + alpha * dense with ``weight_on_dense``); a document missing from one
list takes that list's minimum score; ``normalization`` maps each list to (s - (min + max) / 2) / (max - min).
A list whose scores are all equal (one hit, say) normalizes to 0, where pyserini divides by zero.
"""
from __future__ import annotations

import numpy as np

from ...data.runs import Run


def interpolate(dense, sparse, alpha: float, weight_on_dense: bool = False):
    """The fused score of a (dense, sparse) pair, for floats or numpy arrays alike."""
    return sparse + alpha * dense if weight_on_dense else alpha * sparse + dense


def score_range(scores: dict[str, float]) -> tuple[float, float]:
    """(min, max) of one list as HybridSearcher takes them; (0, 1) for an empty list."""
    return (min(scores.values()), max(scores.values())) if scores else (0.0, 1.0)


def centre_scale(score, lo: float, hi: float):
    """HybridSearcher's normalization (s - (min + max) / 2) / (max - min), for a float or a numpy array;
    0 for a list whose scores are all equal, where pyserini divides by zero."""
    return (score - (lo + hi) / 2) / (hi - lo) if hi > lo else score * 0.0


class AlignedLists:
    """One query's dense and sparse scores over the union of their documents (docid order), missing -> the list's
    minimum, as HybridSearcher fills them; fusing at any alpha is then one vector operation (the tuner's sweep)."""

    def __init__(self, dense: list[tuple[str, float]], sparse: list[tuple[str, float]]):
        d, s = dict(dense), dict(sparse)
        self.docids = sorted(set(d) | set(s))
        (d_lo, d_hi), (s_lo, s_hi) = score_range(d), score_range(s)
        self.dense = np.array([d.get(x, d_lo) for x in self.docids], dtype=np.float64)
        self.sparse = np.array([s.get(x, s_lo) for x in self.docids], dtype=np.float64)
        self.dense_norm = centre_scale(self.dense, d_lo, d_hi)
        self.sparse_norm = centre_scale(self.sparse, s_lo, s_hi)

    def top(self, alpha: float, normalization: bool = False, hits: int = 10,
            weight_on_dense: bool = False) -> list[tuple[str, float]]:
        """The fused list, best first; ties in docid order, as ``data.runs.sort_hits`` orders them."""
        dense, sparse = (self.dense_norm, self.sparse_norm) if normalization else (self.dense, self.sparse)
        scores = interpolate(dense, sparse, alpha, weight_on_dense)
        order = np.argsort(-scores, kind="stable")[:hits]
        return [(self.docids[i], float(scores[i])) for i in order]


def hybrid(dense: list[tuple[str, float]], sparse: list[tuple[str, float]], alpha: float = 0.1,
           normalization: bool = False, weight_on_dense: bool = False, hits: int = 10) -> list[tuple[str, float]]:
    """One query's dense + sparse fusion exactly as ``pyserini.search.hybrid.HybridSearcher``."""
    return AlignedLists(dense, sparse).top(alpha, normalization, hits, weight_on_dense)


def hybrid_runs(dense: Run, sparse: Run, **kwargs) -> Run:
    return {qid: hybrid(dense.get(qid, []), sparse.get(qid, []), **kwargs) for qid in dense}
