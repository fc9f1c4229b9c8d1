"""Approximate indexes against flat on a dense index directory: size, recall@100 of the flat top-100, nDCG@10.

    python scripts/bench_ann.py --index work/scifact/minilm-flat --topics beir-v1.0.0-scifact-test \
        [--factories HNSW32 PQ48 OPQ48,IVF64,PQ48] [--ef-search 128] [--nprobe 16]

Builds each faiss index-factory string from the flat index's vectors (pyserini_dr.index.faiss_builder), searches the
topics with the index's own encoder, and prints one table.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    import numpy as np

    from pyserini_dr.data.qrels import read_qrels
    from pyserini_dr.data.registry import resolve_qrels, resolve_topics
    from pyserini_dr.encode.encoder import DenseEncoder
    from pyserini_dr.eval.metrics import evaluate
    from pyserini_dr.index.dense import FAISS_FILE, DenseIndex
    from pyserini_dr.index.faiss_builder import build_index
    from pyserini_dr.search.faiss import DenseSearcher

    p = argparse.ArgumentParser()
    p.add_argument("--index", required=True)
    p.add_argument("--topics", default="beir-v1.0.0-scifact-test")
    p.add_argument("--factories", nargs="+", default=["HNSW32", "PQ48", "OPQ48,IVF64,PQ48"])
    p.add_argument("--ef-search", type=int, default=128)
    p.add_argument("--nprobe", type=int, default=16)
    args = p.parse_args()

    flat = DenseIndex(args.index)
    encoder = DenseEncoder(flat.meta["encoder"]["model"])
    topics = resolve_topics(args.topics)
    qrels = read_qrels(resolve_qrels(args.topics))
    qids = list(topics)
    vectors = encoder.encode_queries([topics[q] for q in qids])

    def measure(index_dir, **kw):
        searcher = DenseSearcher(DenseIndex(index_dir), encoder, backend="faiss", **kw)
        t = time.perf_counter()
        run = searcher.search_vectors(vectors, qids, 100)
        return run, time.perf_counter() - t

    ref, ref_secs = measure(args.index)
    rows = [("Flat (exact)", os.path.getsize(os.path.join(args.index, FAISS_FILE)), 1.0,
             evaluate(qrels, ref, ["ndcg_cut.10"])["ndcg_cut.10"], ref_secs)]
    with tempfile.TemporaryDirectory() as tmp:
        for factory in args.factories:
            out = os.path.join(tmp, factory.replace(",", "_"))
            build_index(args.index, out, factory)
            run, secs = measure(out, ef_search=args.ef_search if "HNSW" in factory else None,
                                nprobe=args.nprobe if "IVF" in factory else None)
            recall = float(np.mean([len({d for d, _ in run[q]} & {d for d, _ in ref[q]}) / len(ref[q]) for q in qids]))
            rows.append((factory, os.path.getsize(os.path.join(out, FAISS_FILE)), recall,
                         evaluate(qrels, run, ["ndcg_cut.10"])["ndcg_cut.10"], secs))

    print(f"\n{len(flat.docids):,} vectors of {flat.dimension} dims ({args.index}); {len(qids)} queries of {args.topics};"
          f" HNSW efSearch {args.ef_search}, IVF nprobe {args.nprobe}")
    print("| index                | size (bytes) | recall@100 of flat top-100 | nDCG@10 | search time |")
    print("|----------------------|--------------|----------------------------|---------|-------------|")
    for name, size, recall, ndcg, secs in rows:
        print(f"| {name:<20} | {size:12,} | {recall:26.4f} | {ndcg:.4f}  | {secs * 1000:8.1f} ms |")


if __name__ == "__main__":
    main()
