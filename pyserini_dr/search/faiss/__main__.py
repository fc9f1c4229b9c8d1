"""python -m pyserini_dr.search.faiss --index DIR|NAME --topics NAME|FILE --output run.txt [--encoder NAME_OR_DIR]

Pyserini's dense search command. Encoder settings default to those recorded in the index's meta.json; a flag that
contradicts them (pooling, normalization, dimension) is refused.
"""
from __future__ import annotations

import sys
import time

from ...cli import ArgumentParser, options_from, positive, pyserini_flags, run_main
from ...data.registry import resolve_topics
from ...data.runs import max_passage, unit_interval, write_run
from ...encode.options import EncoderOptions
from ..options import add_output_args
from .options import DenseSearchOptions, add_dense_args, dense_searcher


BPR = "BPR binary search is not supported"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m pyserini_dr.search.faiss", description=__doc__.split("\n\n")[0])
    add_dense_args(parser)
    parser.add_argument("--topics", required=True, help="topics file (jsonl or tsv) or a dataset topic name")
    parser.add_argument("--batch-size", type=positive, default=256, help="queries encoded per batch")
    parser.add_argument("--normalize-distances", action="store_true",
                        help="inner-product scores as (1 + s) / 2, in [0, 1] (Lucene's dense scores; as Pyserini's)")
    add_output_args(parser)
    pyserini_flags(parser, refused={"--binary-hits": BPR, "--rerank": BPR,
                                    "--explicit-truncate": "Qwen3 query encoders are not supported"})
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    started = time.time()
    topics = resolve_topics(args.topics)
    searcher = dense_searcher(options_from(args, DenseSearchOptions), options_from(args, EncoderOptions))
    tag = args.run_tag or "pyserini-dr-dense"
    plain = not (args.normalize_distances or args.max_passage)
    if plain and hasattr(searcher, "batch_search_ranked"):  # faiss / torch: arrays straight to the file
        ranked = searcher.batch_search_ranked(topics, args.hits, args.batch_size, args.remove_query)
        lines = ranked.write(args.output, output_format=args.output_format, tag=tag)
    else:  # a Lucene dense index, or a run to post-process
        run = searcher.batch_search(topics, args.hits, args.batch_size, args.remove_query)
        if args.normalize_distances and searcher.index.meta.get("metric", "inner_product") == "inner_product":
            run = unit_interval(run)
        if args.max_passage:
            run = max_passage(run, args.max_passage_delimiter, args.max_passage_hits)
        lines = write_run(run, args.output, output_format=args.output_format, tag=tag)
    print(f"searched {len(topics):,} topics with {searcher.backend_name} ({lines:,} hits) in "
          f"{time.time() - started:.1f}s -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
