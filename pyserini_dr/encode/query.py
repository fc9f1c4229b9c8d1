"""python -m pyserini_dr.encode.query --topics NAME|FILE (--index DIR | --encoder M ...) --output FILE

Pyserini's ``encode.query``: topics encoded once, written as ``.tsv`` (topics for ``pyserini.search.lucene
--dense``), ``.jsonl[.gz]`` (Anserini's vector topics) or ``.pkl`` (``pyserini.search.faiss --encoded-queries``).
With ``--index`` the query encoder and its settings are those the index records.
"""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    from ..cli import ArgumentParser, options_from, output_file, positive
    from ..data.query_vectors import write_query_vectors
    from ..data.registry import resolve_topics
    from ..errors import InputError
    from ..search.faiss.options import load_index_and_encoder
    from ..search.queries import encode_topics
    from .options import EncoderOptions, add_encoder_args, build_encoder

    parser = ArgumentParser(prog="python -m pyserini_dr.encode.query", description=__doc__.split("\n\n")[1])
    parser.add_argument("--topics", required=True, help="topics file or a dataset topic name")
    parser.add_argument("--index", help="a dense index (faiss or Lucene) whose recorded encoder to use")
    parser.add_argument("--output", type=output_file, required=True, help="file to write: .tsv, .jsonl, .jsonl.gz or .pkl")
    parser.add_argument("--batch-size", type=positive, default=256)
    add_encoder_args(parser, defaults_from_index=True)
    args = parser.parse_args(argv)

    options = options_from(args, EncoderOptions)
    if args.index:
        encoder = load_index_and_encoder(args.index, options)[1]
    elif args.encoder:
        encoder = build_encoder(options)
    else:
        raise InputError("give --index (its recorded encoder) or --encoder")
    topics = resolve_topics(args.topics)
    qids, vectors = encode_topics(encoder, topics, args.batch_size)
    write_query_vectors(args.output, qids, vectors, [topics[q] for q in qids])
    print(f"encoded {len(qids):,} queries ({vectors.shape[1]} dims) -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from ..cli import run_main

    run_main(main)
