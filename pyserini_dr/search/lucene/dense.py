"""Dense search over a Lucene flat or HNSW index through Anserini's FlatDenseSearcher / HnswDenseSearcher.

Queries are encoded by our encoders and handed to Anserini as vectors; Anserini's batch search runs them on Java
threads. Scores are reported as the inner product (Lucene's DOT_PRODUCT score is (1 + inner product) / 2), so runs
and hybrid fusion read as those of a faiss index. Shards are searched one by one and their lists merged exactly.
"""
from __future__ import annotations

import json

import numpy as np

from ... import _pyserini
from ...data.runs import Run
from ...encode.families import check_fits_index
from ...errors import InputError
from ...index.lucene.dense import LuceneDenseIndex
from ..queries import encode_topics

FLAT_MAX_HITS = 1000  # Anserini's FlatDenseSearcher asks Lucene for at most this many neighbours


class LuceneDenseSearcher:
    """Same interface as ``search.faiss.DenseSearcher``: ``batch_search(topics, hits, batch_size, remove_query)``.

    HNSW: efSearch is raised to ``hits`` where it is smaller (Lucene returns at most efSearch neighbours; Pyserini
    would silently return fewer hits)."""

    backend_name = "lucene"

    def __init__(self, index: LuceneDenseIndex, encoder, *, ef_search: int = 100, threads: int = 1):
        self.index, self.encoder = index, encoder
        self.ef_search, self.threads = ef_search, threads
        check_fits_index(index, encoder.settings, encoder.dimension)
        self._searchers: dict[int, list] = {}
        self._rows = {d: i for i, d in enumerate(index.docids)} if index.docids else None

    def _shard_searchers(self, ef: int) -> list:
        if ef not in self._searchers:
            self._searchers[ef] = [_pyserini.lucene_dense_searcher(d, hnsw=self.index.hnsw, ef_search=ef)
                                   for d in self.index.shards]
        return self._searchers[ef]

    def search_vectors(self, vectors: np.ndarray, qids: list[str], hits: int, remove_query: bool = False) -> Run:
        if not self.index.hnsw and hits > FLAT_MAX_HITS:
            raise InputError(f"--hits {hits}: Anserini's flat Lucene searcher returns at most {FLAT_MAX_HITS} hits")
        searchers = self._shard_searchers(max(self.ef_search, hits) if self.index.hnsw else 0)
        queries = _pyserini.java_string_list(json.dumps(v) for v in np.asarray(vectors, dtype=np.float32).tolist())
        ids = _pyserini.java_string_list(qids)
        per_shard = [searcher.batch_search(queries, ids, hits, self.threads) for searcher in searchers]
        run: Run = {}
        for qid in qids:
            found = [(h.docid, 2.0 * h.score - 1.0) for results in per_shard for h in results.get(qid)]
            run[qid] = self._ranked(found, hits, qid if remove_query else None)
        return run

    def _ranked(self, found: list[tuple[str, float]], hits: int, drop: str | None) -> list[tuple[str, float]]:
        # score, then our row order (faiss's tie order; Lucene's depends on indexing threads and shards)
        rows = self._rows
        if rows is not None:
            found.sort(key=lambda h: (-h[1], rows.get(h[0], len(rows))))
        elif len(self.index.shards) > 1:
            found.sort(key=lambda h: -h[1])
        return [h for h in found if h[0] != drop][:hits]

    def batch_search(self, topics: dict[str, str], hits: int = 1000, batch_size: int = 256,
                     remove_query: bool = False) -> Run:
        qids, vectors = encode_topics(self.encoder, topics, batch_size)
        return self.search_vectors(vectors, qids, hits, remove_query)
