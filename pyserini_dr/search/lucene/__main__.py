"""python -m pyserini_dr.search.lucene --index DIR|NAME --topics NAME|FILE --output run.txt --bm25 [--hits 1000]"""
from __future__ import annotations

import argparse
import sys
import time

from ...cli import run_main
from ...data.registry import resolve_topics
from ...data.runs import write_run
from ...errors import InputError
from ...prebuilt import resolve_index
from . import BM25Searcher


def parse_fields(items: list[str] | None) -> dict[str, float]:
    fields = {}
    for item in items or []:
        name, _, boost = item.partition("=")
        try:
            fields[name] = float(boost or 1.0)
        except ValueError:
            raise InputError(f"--fields takes name=boost pairs, got {item!r}") from None
    return fields


def bm25_searcher(args) -> BM25Searcher:
    """The BM25Searcher of parsed --index (directory or prebuilt name), --k1, --b and --fields."""
    return BM25Searcher(resolve_index(args.index, "lucene"), args.k1, args.b, parse_fields(args.fields))


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="run file to write")
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--remove-query", action="store_true", help="drop a hit whose docid equals the query id")
    parser.add_argument("--run-tag", default=None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.search.lucene", description="BM25 search.")
    parser.add_argument("--index", required=True, help="Lucene index directory or prebuilt name")
    parser.add_argument("--topics", required=True, help="topics file (jsonl or tsv) or a dataset topic name")
    parser.add_argument("--bm25", action="store_true", default=True, help="BM25 ranking (the only one; default)")
    parser.add_argument("--k1", type=float, default=0.9)
    parser.add_argument("--b", type=float, default=0.4)
    parser.add_argument("--fields", nargs="+", help="multifield boosts, e.g. contents=1.0 title=1.0")
    parser.add_argument("--threads", type=int, default=1)
    add_output_args(parser)
    args = parser.parse_args(argv)

    started = time.time()
    topics = resolve_topics(args.topics)
    searcher = bm25_searcher(args)
    run = searcher.batch_search(topics, args.hits, args.threads, args.remove_query)
    lines = write_run(run, args.output, output_format=args.output_format, tag=args.run_tag or "pyserini-dr-bm25")
    elapsed = time.time() - started
    print(f"searched {len(topics):,} topics ({lines:,} hits) in {elapsed:.1f}s -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
