"""python -m pyserini_dr.search.hybrid dense --index ... [--encoder ...] sparse --index ... fusion --alpha A
    [--normalization] [--weight-on-dense] [--method interpolation|rrf] run --topics ... --output ... [--hits N]

Pyserini's hybrid command: the same sections, flags and scores as ``python -m pyserini.search.hybrid``.
"""
from __future__ import annotations

import argparse
import sys
import time

from ...cli import options_from, run_main
from ...data.registry import resolve_topics
from ...data.runs import max_passage, write_run
from ...encode.options import EncoderOptions
from ..faiss.options import DenseSearchOptions, dense_searcher
from ..lucene.options import BM25Options, bm25_searcher
from . import HybridSearch
from .options import section_parsers, split_sections


def parse(argv: list[str] | None) -> dict[str, argparse.Namespace]:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        for name, parser in section_parsers().items():
            print(f"\n[{name}]\n" + parser.format_help().split("\n", 2)[-1])
        raise SystemExit(0)
    parsers = section_parsers()
    return {name: parsers[name].parse_args(args) for name, args in split_sections(argv).items()}


def main(argv=None) -> int:
    args = parse(argv)
    started = time.time()
    topics = resolve_topics(args["run"].topics)
    sparse = bm25_searcher(options_from(args["sparse"], BM25Options))
    dense = dense_searcher(options_from(args["dense"], DenseSearchOptions), options_from(args["dense"], EncoderOptions))
    searcher = HybridSearch(dense, sparse)
    f, r = args["fusion"], args["run"]
    run = searcher.batch_search(topics, k0=f.hits, hits=r.hits, alpha=f.alpha, normalization=f.normalization,
                                weight_on_dense=f.weight_on_dense, method=f.method, rrf_k=f.rrf_k,
                                batch_size=r.batch_size, threads=r.threads, remove_query=r.remove_query)
    if r.max_passage:
        run = max_passage(run, r.max_passage_delimiter, r.max_passage_hits)
    lines = write_run(run, r.output, output_format=r.output_format, tag=r.run_tag or "pyserini-dr-hybrid")
    print(f"hybrid ({f.method}) searched {len(topics):,} topics ({lines:,} hits) in {time.time() - started:.1f}s "
          f"-> {r.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
