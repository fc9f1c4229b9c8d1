"""Dense + sparse (BM25) hybrid search: Pyserini's HybridSearcher interpolation, or reciprocal rank fusion."""
from __future__ import annotations

from ...data.runs import Run
from ...errors import InputError
from ...fusion import reciprocal_rank_fusion
from .interpolation import hybrid_runs

FUSION_METHODS = ("interpolation", "rrf")


class HybridSearch:
    """Runs a dense and a BM25 searcher to depth ``k0`` and fuses their lists per query."""

    def __init__(self, dense, sparse):
        self.dense = dense    # pyserini_dr.search.faiss.DenseSearcher
        self.sparse = sparse  # pyserini_dr.search.lucene.BM25Searcher

    def component_runs(self, topics: dict[str, str], k0: int, batch_size: int = 256, threads: int = 1,
                       remove_query: bool = False) -> tuple[Run, Run]:
        dense = self.dense.batch_search(topics, k0, batch_size, remove_query)
        sparse = self.sparse.batch_search(topics, k0, threads, remove_query)
        return dense, sparse

    def batch_search(self, topics: dict[str, str], *, k0: int = 1000, hits: int = 1000, alpha: float = 0.1,
                     normalization: bool = False, weight_on_dense: bool = False, method: str = "interpolation",
                     rrf_k: int = 60, batch_size: int = 256, threads: int = 1, remove_query: bool = False) -> Run:
        dense, sparse = self.component_runs(topics, k0, batch_size, threads, remove_query)
        return fuse_components(dense, sparse, method=method, hits=hits, alpha=alpha, normalization=normalization,
                               weight_on_dense=weight_on_dense, rrf_k=rrf_k)


def fuse_components(dense: Run, sparse: Run, *, method: str = "interpolation", hits: int = 1000,
                    alpha: float = 0.1, normalization: bool = False, weight_on_dense: bool = False,
                    rrf_k: int = 60) -> Run:
    if method == "interpolation":
        return hybrid_runs(dense, sparse, alpha=alpha, normalization=normalization,
                           weight_on_dense=weight_on_dense, hits=hits)
    if method == "rrf":
        return reciprocal_rank_fusion([dense, sparse], rrf_k, hits=hits)
    raise InputError(f"unknown fusion method {method!r} ({', '.join(FUSION_METHODS)})")
