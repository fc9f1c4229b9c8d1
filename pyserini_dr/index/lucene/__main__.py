"""python -m pyserini_dr.index.lucene --dataset beir-v1.0.0-scifact --index DIR [--fields]"""
from __future__ import annotations

import sys
import time

from ...cli import ArgumentParser, run_main
from ...data.registry import resolve_corpus
from . import LuceneIndexBuilder


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.index.lucene",
                                     description="Build a Lucene BM25 index from a corpus.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    source.add_argument("--corpus", help="corpus file: BEIR corpus.jsonl or JsonCollection jsonl")
    parser.add_argument("--index", required=True, help="output index directory")
    parser.add_argument("--fields", action="store_true",
                        help="multifield: index title and text separately (search with --fields contents=1 title=1)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    started = time.time()
    corpus = resolve_corpus(args.dataset or args.corpus)
    stats = LuceneIndexBuilder(multifield=args.fields, threads=args.threads).build(corpus, args.index)
    skipped = (f"; {stats.not_indexed:,} with empty contents not indexed (Anserini skips them, as in Pyserini's "
               "indexes)") if stats.not_indexed else ""
    print(f"indexed {stats} into {args.index} in {time.time() - started:.1f}s{skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
