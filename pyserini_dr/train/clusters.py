"""Topic clusters of the training queries for TAS-B's topic-aware sampling (Hofstätter et al., SIGIR 2021):
k-means (faiss) over the queries' vectors from a baseline encoder.

    python -m pyserini_dr.train.clusters --train-data train.jsonl --encoder MODEL --clusters 50 --output clusters.tsv

Runs on the CPU machine (faiss); the GPU side reads the ``qid<TAB>cluster`` file.
"""
from __future__ import annotations

import sys

from ..cli import ArgumentParser, positive, run_main
from ..files import atomic_write
from ..data.lines import numbered_lines
from ..errors import InputError, where


def read_clusters(path) -> dict[str, int]:
    clusters = {}
    for no, line in numbered_lines(path):
        cols = line.split("\t")
        if len(cols) != 2 or not cols[1].strip().isdigit():
            raise InputError(f"{where(path, no)}: expected qid<TAB>cluster number")
        clusters[cols[0]] = int(cols[1])
    return clusters


def cluster_queries(vectors, k: int, seed: int = 42, iterations: int = 20):
    """Cluster id per row of ``vectors`` (float32 [N, d]) by faiss k-means, spherical when the vectors are."""
    import faiss
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=iterations, seed=seed, verbose=False,
                          min_points_per_centroid=1)
    kmeans.train(vectors)
    return kmeans.index.search(vectors, 1)[1][:, 0]


def main(argv=None) -> int:
    from ..cli import options_from
    from ..encode.options import EncoderOptions, add_encoder_args, build_encoder
    from .examples import read_examples

    p = ArgumentParser(prog="python -m pyserini_dr.train.clusters", description=__doc__.split("\n\n")[0])
    p.add_argument("--train-data", required=True)
    p.add_argument("--clusters", type=positive, required=True, help="number of topics (k)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output", required=True, help="qid<TAB>cluster file")
    add_encoder_args(p)
    args = p.parse_args(argv)
    examples = read_examples(args.train_data)
    if not 1 <= args.clusters <= len(examples):
        raise InputError(f"--clusters must be in [1, {len(examples)}] (the number of training queries)")
    encoder = build_encoder(options_from(args, EncoderOptions))
    ids = cluster_queries(encoder.encode_queries([e.query for e in examples]), args.clusters, args.seed)
    with atomic_write(args.output) as f:
        for ex, c in zip(examples, ids):
            f.write(f"{ex.query_id}\t{int(c)}\n")
    sizes = sorted((int((ids == c).sum()) for c in set(ids.tolist())), reverse=True)
    print(f"{len(examples):,} queries in {len(sizes)} clusters (largest {sizes[0]}, smallest {sizes[-1]}) "
          f"-> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
