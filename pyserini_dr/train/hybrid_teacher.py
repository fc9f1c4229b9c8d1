"""python -m pyserini_dr.train.hybrid_teacher --index DENSE --sparse-index LUCENE --alpha A [--scale S]
    (--train-data FILE | --topics NAME|FILE --run RUN [--hits N]) --output teacher.txt

A dense + BM25 ensemble as the distillation teacher: every pair gets scale x (alpha x BM25 + dense), pyserini's
HybridSearcher interpolation computed exactly for that pair (a document outside the BM25 top ``--depth`` is scored
by Lucene on its own, not given the list's minimum). Written as a TREC run, the teacher-scores file the tasb, pair
and simlm recipes read. Runs on the CPU machine (Lucene); the GPU side only reads the file.

Why: the TAS-B paper distils an ensemble (BERT_CAT + ColBERT); where no strong cross-encoder can be had, the
sparse + dense ensemble is the strongest scorer available and generalises beyond the training positives. ``--scale``
puts its scores on the student's logit scale (1 / temperature) for the KL and Margin-MSE terms.
"""
from __future__ import annotations

import time

import numpy as np

from ..cli import ArgumentParser, finite, positive, run_main
from ..progress import progress
from ..data.runs import Run, sort_hits
from ..errors import InputError
from ..search.hybrid.interpolation import interpolate


class HybridTeacher:
    """Scores given (query, document) pairs with alpha x BM25 + dense, times ``scale``."""

    def __init__(self, dense_index, encoder, sparse, index_reader, *, alpha: float, scale: float = 1.0,
                 depth: int = 100, sparse_dir: str = ""):
        if dense_index.meta.get("index_type", "Flat") != "Flat":
            raise InputError(f"{dense_index.directory} is a {dense_index.meta['index_type']} index: the teacher needs "
                             "the exact vectors of a flat one")
        self.index, self.encoder, self.sparse, self.reader = dense_index, encoder, sparse, index_reader
        self.sparse_dir = sparse_dir
        self.alpha, self.scale, self.depth = alpha, scale, depth
        self.rows = {d: i for i, d in enumerate(dense_index.docids)}

    def score(self, topics: dict[str, str], pairs: Run, batch_size: int = 256, threads: int = 1) -> Run:
        qids = [q for q in pairs if q in topics]
        missing = next((d for q in qids for d, _ in pairs[q] if d not in self.rows), None)
        if missing is not None:
            raise InputError(f"document {missing!r} is not in the dense index {self.index.directory}")
        queries = {q: topics[q] for q in qids}
        bm25 = self.sparse.batch_search(queries, self.depth, threads)
        query_vectors = self.encoder.encode_queries(list(queries.values()), batch_size=batch_size)
        vectors = self.index.vectors()
        scored: Run = {}
        for qid, qvec in progress(zip(qids, query_vectors), total=len(qids), desc="teacher", unit="query"):
            docs = [d for d, _ in pairs[qid]]
            dense = np.asarray(vectors[[self.rows[d] for d in docs]], dtype=np.float32) @ qvec.astype(np.float32)
            top = dict(bm25.get(qid, []))
            sparse = [top[d] if d in top else self._bm25_alone(d, queries[qid]) for d in docs]
            scored[qid] = sort_hits((d, self.scale * interpolate(float(v), s, self.alpha))
                                    for d, s, v in zip(docs, sparse, dense))
        return scored

    def _bm25_alone(self, docid: str, query: str) -> float:
        """Lucene's BM25 of one pair; Anserini answers 0 for a docid it does not hold, so that is refused first."""
        if self.reader.convert_collection_docid_to_internal_docid(docid) < 0:
            raise InputError(f"document {docid!r} is not in the Lucene index {self.sparse_dir}")
        return float(self.reader.compute_query_document_score(docid, query))


def main(argv=None) -> int:
    from ..cli import options_from
    from ..encode.options import EncoderOptions
    from ..search.faiss.options import add_dense_args, load_index_and_encoder
    from ..search.lucene import BM25Searcher
    from .. import _pyserini
    from ..prebuilt import resolve_index
    from ..rerank.options import PairOptions, add_pair_args
    from ..rerank.pairs import pairs_to_score, write_scores

    p = ArgumentParser(prog="python -m pyserini_dr.train.hybrid_teacher", description=__doc__.split("\n\n")[1])
    add_dense_args(p, search_flags=False)
    p.add_argument("--threads", type=positive, default=None, help="Lucene threads for the BM25 searches")
    p.add_argument("--sparse-index", required=True, help="Lucene index directory or prebuilt name (BM25 k1 0.9, b 0.4)")
    p.add_argument("--alpha", type=finite, required=True, help="weight of BM25 (pyserini's hybrid semantics)")
    p.add_argument("--scale", type=finite, default=1.0, help="multiplies every score (1 / the student's temperature)")
    p.add_argument("--depth", type=positive, default=100, help="BM25 hits searched per query; a pair beyond is scored alone")
    add_pair_args(p)
    p.add_argument("--batch-size", type=positive, default=256)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)

    pair_options = options_from(args, PairOptions)
    started = time.time()
    topics, pairs = pairs_to_score(pair_options)
    sparse_dir = resolve_index(args.sparse_index, "lucene")
    index, encoder = load_index_and_encoder(args.index, options_from(args, EncoderOptions))
    teacher = HybridTeacher(index, encoder, BM25Searcher(sparse_dir), _pyserini.lucene_index_reader(sparse_dir),
                            alpha=args.alpha, scale=args.scale, depth=args.depth, sparse_dir=sparse_dir)
    scored = teacher.score(topics, pairs, batch_size=args.batch_size, threads=args.threads or 1)
    write_scores(scored, pair_options, args.output, started, tag="pyserini-dr-hybrid-teacher", verb="scored")
    return 0


if __name__ == "__main__":
    run_main(main)
