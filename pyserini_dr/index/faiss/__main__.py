"""python -m pyserini_dr.index.faiss --input DIR --output DIR --factory HNSW32 | --merge SHARD... --output DIR

Builds a faiss index of another kind (HNSW, IVF-PQ, OPQ, any index-factory string) from a dense index directory,
or merges encoded shards into one flat index; ``--input`` may also be the JSON-lines vectors of ``pyserini.encode``
(without ``--to-faiss``), as Pyserini's own ``pyserini.index.faiss --input`` reads them.
"""
from __future__ import annotations

import sys

from ...cli import ArgumentParser, positive, run_main


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.index.faiss", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a dense index directory (flat) to convert, or pyserini.encode's JSON-lines vectors")
    source.add_argument("--merge", nargs="+", metavar="SHARD", help="shard directories to merge, in order")
    parser.add_argument("--output", required=True)
    parser.add_argument("--factory", default="Flat", help="faiss index-factory string: Flat, HNSW32, IVF1024,PQ64 ...")
    parser.add_argument("--train-size", type=positive, default=200_000, help="vectors sampled to train IVF/PQ")
    parser.add_argument("--ef-construction", type=positive, default=None, help="HNSW efConstruction")
    args = parser.parse_args(argv)

    from ..faiss_builder import build_index, merge_shards

    if args.merge:
        meta = merge_shards(args.merge, args.output)
    else:
        meta = build_index(args.input, args.output, args.factory, train_size=args.train_size,
                           ef_construction=args.ef_construction)
    print(f"wrote {meta.get('index_type', 'Flat')} index of {meta['documents']:,} vectors -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
