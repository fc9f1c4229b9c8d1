"""python -m pyserini_dr.encode --corpus FILE | --dataset NAME --encoder NAME_OR_DIR --output DIR

Encodes a corpus into a Pyserini dense index directory (index + docid + meta.json). Rerun the same command after
an interruption to continue where it stopped. Under torchrun each rank encodes one shard and rank 0 merges them.
"""
from __future__ import annotations

import os
import sys

from ..cli import ArgumentParser, options_from, run_main
from ..data.corpus import has_titles
from ..data.registry import resolve_corpus
from ..errors import InputError
from .options import (PYSERINI_SECTIONS, EncoderOptions, add_corpus_encoding_args, add_encoder_args, build_encoder,
                      parse_pyserini_sections)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m pyserini_dr.encode", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="BEIR corpus.jsonl or JsonCollection jsonl (or a folder of one .jsonl)")
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    parser.add_argument("--output", required=True, help="dense index directory to write")
    add_encoder_args(parser)
    add_corpus_encoding_args(parser)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PYSERINI_SECTIONS:  # Pyserini's form: input ... output ... encoder ...
        args = parse_pyserini_sections(argv, build_parser())
    else:
        args = build_parser().parse_args(argv)

    from ..index.dense import META_FILE
    from .corpus import CHUNK_SIZE, CorpusEncoder
    from .distributed import distributed_shard, merge_after_ranks

    corpus = resolve_corpus(args.dataset or args.corpus)
    if getattr(args, "pyserini_text_only", False) and has_titles(corpus):
        raise InputError("--fields: Pyserini's default (text alone) would leave this corpus's titles out, and they "
                         "are encoded here: give --fields title text in the input and encoder sections")
    if getattr(args, "pyserini_sections", False) and args.passage_prefix and has_titles(corpus):
        raise InputError("--prefix: unsupported Pyserini flag (Pyserini puts it between a title and its text; this "
                         "corpus has titles)")
    rank, world = distributed_shard()
    shard_id, shard_num, output = args.shard_id or 0, args.shard_num or 1, args.output
    if world > 1 and args.shard_id is None:
        shard_id, shard_num, output = rank, world, os.path.join(args.output, "shards", f"{rank:03d}")
        if args.device is None:
            args.device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
    if world > 1 and args.shard_id is None:
        if os.path.isfile(os.path.join(args.output, META_FILE)):
            raise InputError(f"{args.output} already holds a finished index; remove it or pick another --output")
        if os.path.isfile(os.path.join(output, META_FILE)):  # a rerun: this rank's shard is done, merge again
            merge_after_ranks(args.output, world, rank)
            return 0
    elif os.path.isfile(os.path.join(output, META_FILE)):
        raise InputError(f"{output} already holds a finished index; remove it or pick another --output")
    encoder = build_encoder(options_from(args, EncoderOptions), corpus=True)
    corpus_encoder = CorpusEncoder(encoder, chunk_size=args.chunk_size or CHUNK_SIZE,
                                   batch_tokens=args.batch_tokens, compile=args.compile,
                                   tokenizer_processes=args.tokenizer_processes, ranks=world,
                                   cuda_graphs=not args.no_cuda_graphs)
    meta = corpus_encoder.encode(corpus, output, shard_id=shard_id, shard_num=shard_num,
                                 corpus_name=args.dataset or corpus)
    docs_per_s = meta["documents"] / max(meta["encode_seconds"], 1e-9)
    print(f"encoded {meta['documents']:,} documents ({meta['dimension']} dims) in {meta['encode_seconds']:.1f}s "
          f"({docs_per_s:,.0f} docs/s) -> {output}", file=sys.stderr)
    if world > 1 and args.shard_id is None:
        merge_after_ranks(args.output, world, rank)
    return 0


if __name__ == "__main__":
    run_main(main)
