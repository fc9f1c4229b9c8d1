"""python -m pyserini_dr.search.faiss --index DIR|NAME --topics NAME|FILE --output run.txt [--encoder NAME_OR_DIR]

Pyserini's dense search command. Encoder settings default to those recorded in the index's meta.json; a flag that
contradicts them (pooling, normalization, dimension) is refused.
"""
from __future__ import annotations

import argparse
import sys
import time

from ...cli import run_main
from ...data.registry import resolve_topics
from ...data.runs import write_run
from ...errors import InputError
from ...prebuilt import resolve_index
from ..lucene.__main__ import add_output_args
from . import BACKENDS, DenseSearcher


def load_index_and_encoder(args):
    from ...encode.__main__ import build_encoder
    from ...encode.settings import EncoderSettings
    from ...index.dense import DenseIndex

    index = DenseIndex(resolve_index(args.index, "dense"))
    saved = index.meta.get("encoder")
    model = args.encoder or (saved or {}).get("model")
    if not model:
        raise InputError(f"{args.index} records no encoder: give --encoder")
    settings = None
    if saved and not args.encoder_class and (args.encoder is None or args.encoder == saved.get("model")):
        settings = EncoderSettings.from_dict(saved)
    return index, build_encoder(args, model, settings)


def add_dense_args(parser: argparse.ArgumentParser) -> None:
    from ...encode.__main__ import add_encoder_args

    parser.add_argument("--index", required=True, help="dense index directory or prebuilt name")
    add_encoder_args(parser, defaults_from_index=True)
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--threads", type=int, default=None, help="faiss CPU threads")
    parser.add_argument("--ef-search", type=int, default=None, help="HNSW efSearch")
    parser.add_argument("--nprobe", type=int, default=None, help="IVF lists probed")
    parser.add_argument("--fp8-select", action="store_true",
                        help="torch backend on an H100-class GPU: candidates picked from float8 scores (approximate: "
                        "check the overlap on your index), then float32 re-scoring")


def dense_searcher(args) -> DenseSearcher:
    index, encoder = load_index_and_encoder(args)
    return DenseSearcher(index, encoder, backend=args.backend, device=str(encoder.device), threads=args.threads,
                         dtype="bfloat16" if args.bf16 else "float16", ef_search=args.ef_search, nprobe=args.nprobe,
                         fp8_select=args.fp8_select)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.search.faiss", description=__doc__.split("\n\n")[0])
    add_dense_args(parser)
    parser.add_argument("--topics", required=True, help="topics file (jsonl or tsv) or a dataset topic name")
    parser.add_argument("--batch-size", type=int, default=256, help="queries encoded per batch")
    add_output_args(parser)
    args = parser.parse_args(argv)

    started = time.time()
    topics = resolve_topics(args.topics)
    searcher = dense_searcher(args)
    run = searcher.batch_search(topics, args.hits, args.batch_size, args.remove_query)
    lines = write_run(run, args.output, output_format=args.output_format, tag=args.run_tag or "pyserini-dr-dense")
    print(f"searched {len(topics):,} topics with {searcher.backend_name} ({lines:,} hits) in "
          f"{time.time() - started:.1f}s -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
