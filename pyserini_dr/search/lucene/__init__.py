"""BM25 over a Lucene index through Anserini's SimpleSearcher, called as pyserini's LuceneSearcher calls it."""
from __future__ import annotations

from ... import _pyserini
from ...data.runs import Run
from ...errors import InputError


class BM25Searcher:
    """Anserini's SimpleSearcher (``_pyserini.AnseriniSearcher``) with BM25 (k1, b) and optional multifield boosts;
    returns runs as dicts."""

    def __init__(self, index_dir: str, k1: float = 0.9, b: float = 0.4, fields: dict[str, float] | None = None):
        import os

        from ...index.dense import FAISS_FILE, META_FILE
        from ...index.lucene import is_lucene_index

        if not os.path.isdir(index_dir):
            raise InputError(f"no such Lucene index directory: {index_dir}")
        if not is_lucene_index(index_dir):  # Lucene would throw IndexNotFoundException from inside the JVM
            dense = any(os.path.isfile(os.path.join(index_dir, f)) for f in (FAISS_FILE, META_FILE))
            raise InputError(f"{index_dir} is no Lucene index (no segments_N file)" +
                             (": it is a dense index, searched by python -m pyserini_dr.search.faiss" if dense else ""))
        self.searcher = _pyserini.AnseriniSearcher(index_dir)
        self.searcher.set_bm25(k1, b)
        self.fields = fields or {}

    def batch_search(self, topics: dict[str, str], hits: int = 1000, threads: int = 1,
                     remove_query: bool = False, batch_size: int = 10_000) -> Run:
        """qid -> [(docid, score)]; ``remove_query`` drops a hit whose docid equals the qid, as pyserini does."""
        run: Run = {}
        qids = list(topics)
        for start in range(0, len(qids), batch_size):
            batch = qids[start:start + batch_size]
            results = self.searcher.batch_search([topics[q] for q in batch], batch, hits, threads, fields=self.fields)
            for qid in batch:
                run[qid] = [(h.docid, float(h.score)) for h in results[qid] if not (remove_query and h.docid == qid)]
        return run

    def search(self, query: str, hits: int = 10) -> list[tuple[str, float]]:
        return [(h.docid, float(h.score)) for h in self.searcher.search(query, hits, fields=self.fields)]
