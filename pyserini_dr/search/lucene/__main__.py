"""python -m pyserini_dr.search.lucene --index DIR|NAME --topics NAME|FILE --output run.txt --bm25 [--hits 1000]"""
from __future__ import annotations

import sys
import time

from ...cli import ArgumentParser, options_from, positive, run_main
from ...data.registry import resolve_topics
from ...data.runs import write_run
from ..options import add_output_args
from .options import BM25Options, add_bm25_args, bm25_searcher


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.search.lucene", description="BM25 search.")
    add_bm25_args(parser)
    parser.add_argument("--topics", required=True, help="topics file (jsonl or tsv) or a dataset topic name")
    parser.add_argument("--bm25", action="store_true", default=True, help="BM25 ranking (the only one; default)")
    parser.add_argument("--threads", type=positive, default=1)
    parser.add_argument("--batch-size", type=positive, default=10_000, help="queries per batch search (as Pyserini's)")
    add_output_args(parser)
    args = parser.parse_args(argv)

    started = time.time()
    topics = resolve_topics(args.topics)
    searcher = bm25_searcher(options_from(args, BM25Options))
    run = searcher.batch_search(topics, args.hits, args.threads, args.remove_query, batch_size=args.batch_size)
    lines = write_run(run, args.output, output_format=args.output_format, tag=args.run_tag or "pyserini-dr-bm25")
    elapsed = time.time() - started
    print(f"searched {len(topics):,} topics ({lines:,} hits) in {elapsed:.1f}s -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
