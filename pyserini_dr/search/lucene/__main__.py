"""python -m pyserini_dr.search.lucene --index DIR|NAME --topics NAME|FILE --output run.txt [--bm25 | --dense]

BM25 over a Lucene inverted index, or, with ``--dense [--hnsw|--flat]``, dense search over a Lucene dense index
(Anserini's flat or HNSW searcher; the query encoder comes from the index's meta.json unless ``--encoder`` is given).
"""
from __future__ import annotations

import sys
import time

from ...cli import ArgumentParser, options_from, positive, pyserini_flags, run_main
from ...data.registry import resolve_topics
from ...data.runs import max_passage, remove_duplicates, write_run
from ...encode.options import EncoderOptions, add_encoder_args, encoder_flags_given
from ...errors import InputError
from ..options import add_output_args
from .options import PYSERINI_LUCENE_FLAGS, BM25Options, add_bm25_args, bm25_searcher


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m pyserini_dr.search.lucene", description=__doc__.split("\n\n")[0])
    add_bm25_args(parser)
    parser.add_argument("--topics", required=True, help="topics file (jsonl or tsv) or a dataset topic name")
    parser.add_argument("--bm25", action="store_true", default=True, help="BM25 ranking (default without --dense)")
    parser.add_argument("--threads", type=positive, default=1)
    parser.add_argument("--batch-size", type=positive, default=10_000, help="queries per batch search (as Pyserini's)")
    dense = parser.add_argument_group("dense vectors (Lucene flat or HNSW index)")
    dense.add_argument("--dense", action="store_true", help="search a Lucene dense index")
    kind = dense.add_mutually_exclusive_group()
    kind.add_argument("--hnsw", action="store_true", help="the index is HNSW (default: as the index is)")
    kind.add_argument("--flat", action="store_true", help="the index is flat (default: as the index is)")
    dense.add_argument("--ef-search", type=positive, default=100, help="HNSW efSearch (raised to --hits if lower)")
    add_encoder_args(parser, defaults_from_index=True, queries_only=True)
    add_output_args(parser)
    parser.add_argument("--remove-duplicates", action="store_true", help="keep a docid's first hit only (as Pyserini)")
    pyserini_flags(parser, **PYSERINI_LUCENE_FLAGS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)

    started = time.time()
    if not args.dense:
        given = encoder_flags_given(args) + [flag for flag in ("--hnsw", "--flat") if getattr(args, flag[2:])]
        if given:
            raise InputError(f"{given[0]} applies to dense search: add --dense")
    topics = resolve_topics(args.topics)
    if args.dense:
        searcher = lucene_dense_searcher(args)
        run = searcher.batch_search(topics, args.hits, min(args.batch_size, 256), args.remove_query)
    else:
        from ...index.lucene.dense import has_dense_vectors

        if has_dense_vectors(args.index):  # BM25 would find no terms there and write an empty run
            raise InputError(f"{args.index} is a Lucene dense index: add --dense")
        searcher = bm25_searcher(options_from(args, BM25Options))
        run = searcher.batch_search(topics, args.hits, args.threads, args.remove_query, batch_size=args.batch_size)
    if args.remove_duplicates:
        run = remove_duplicates(run)
    if args.max_passage:
        run = max_passage(run, args.max_passage_delimiter, args.max_passage_hits)
    lines = write_run(run, args.output, output_format=args.output_format,
                      tag=args.run_tag or ("pyserini-dr-lucene-dense" if args.dense else "pyserini-dr-bm25"))
    elapsed = time.time() - started
    print(f"searched {len(topics):,} topics ({lines:,} hits) in {elapsed:.1f}s -> {args.output}", file=sys.stderr)
    return 0


def lucene_dense_searcher(args):
    from ..faiss.options import load_index_and_encoder
    from .dense import LuceneDenseIndex, LuceneDenseSearcher

    index, encoder = load_index_and_encoder(args.index, options_from(args, EncoderOptions))
    if not isinstance(index, LuceneDenseIndex):
        raise InputError(f"{args.index} is a faiss dense index, not a Lucene one: search it with "
                         "python -m pyserini_dr.search.faiss")
    if (args.hnsw and not index.hnsw) or (args.flat and index.hnsw):
        raise InputError(f"{args.index} is {'an HNSW' if index.hnsw else 'a flat'} index: drop "
                         f"{'--hnsw' if args.hnsw else '--flat'} or give {'--hnsw' if index.hnsw else '--flat'}")
    return LuceneDenseSearcher(index, encoder, ef_search=args.ef_search, threads=args.threads)


if __name__ == "__main__":
    run_main(main)
