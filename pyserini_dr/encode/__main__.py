"""python -m pyserini_dr.encode --corpus FILE | --dataset NAME --encoder NAME_OR_DIR --output DIR

Encodes a corpus into a Pyserini dense index directory (index + docid + meta.json). Rerun the same command after
an interruption to continue where it stopped. Under torchrun each rank encodes one shard and rank 0 merges them.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..cli import run_main
from ..data.registry import resolve_corpus
from ..errors import InputError


def add_encoder_args(parser: argparse.ArgumentParser, *, defaults_from_index: bool = False) -> None:
    from .families import FAMILIES

    g = parser.add_argument_group("encoder")
    g.add_argument("--encoder", required=not defaults_from_index, help="HF model name or checkpoint directory")
    g.add_argument("--encoder-class", choices=FAMILIES, help="model family (default: guessed from the name)")
    g.add_argument("--pooling", choices=["cls", "mean"], help="override the family's pooling")
    g.add_argument("--l2-norm", action="store_true", default=None, help="L2-normalize vectors")
    g.add_argument("--max-length", type=int, help="max passage tokens (default: the family's)")
    g.add_argument("--query-max-length", type=int, help="max query tokens (default: the family's)")
    g.add_argument("--query-prefix", help="text put before each query")
    g.add_argument("--passage-prefix", help="text put before each passage")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    g.add_argument("--fp16", action="store_true", help="half precision on the GPU")
    g.add_argument("--bf16", action="store_true", help="bfloat16 on the GPU")


def build_encoder(args, model: str | None = None, settings=None):
    import torch

    from .encoder import DenseEncoder

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = "bfloat16" if args.bf16 else "float16" if args.fp16 else "float32"
    overrides = dict(pooling=args.pooling, l2_norm=args.l2_norm, passage_max_length=args.max_length,
                     query_max_length=args.query_max_length, query_prefix=args.query_prefix,
                     passage_prefix=args.passage_prefix)
    if settings is not None:
        settings = settings.with_overrides(**overrides)
    return DenseEncoder(model or args.encoder, settings, encoder_class=args.encoder_class, device=device,
                        dtype=dtype, **({} if settings is not None else overrides))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.encode", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="BEIR corpus.jsonl or JsonCollection jsonl")
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    parser.add_argument("--output", required=True, help="dense index directory to write")
    add_encoder_args(parser)
    parser.add_argument("--shard-id", type=int, default=None)
    parser.add_argument("--shard-num", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None, help="documents per resumable chunk (16384)")
    parser.add_argument("--batch-tokens", type=int, default=None, help="token budget of one padded batch (131072)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (measured slower on SciFact: each batch shape compiles anew)")
    parser.add_argument("--tokenizer-processes", type=int, default=0,
                        help="tokenize in N worker processes instead of a background thread (faster on many-core "
                             "GPU hosts: see eval/results/bench_encode.*; with (cores - 2) / N <= 4 Rust threads "
                             "each, BERT WordPiece models tokenize in Python, exactly)")
    parser.add_argument("--no-cuda-graphs", action="store_true",
                        help="run the model's forward eagerly on a GPU instead of replaying CUDA graphs")
    args = parser.parse_args(argv)
    if args.tokenizer_processes < 0:
        raise InputError(f"--tokenizer-processes must be 0 or more, got {args.tokenizer_processes}")

    from ..index.dense import META_FILE
    from .corpus import BATCH_TOKENS, CHUNK_SIZE, CorpusEncoder
    from .distributed import distributed_shard, merge_after_ranks

    corpus = resolve_corpus(args.dataset or args.corpus)
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
    encoder = build_encoder(args)
    corpus_encoder = CorpusEncoder(encoder, chunk_size=args.chunk_size or CHUNK_SIZE,
                                   batch_tokens=args.batch_tokens or BATCH_TOKENS, compile=args.compile,
                                   tokenizer_processes=args.tokenizer_processes, cuda_graphs=not args.no_cuda_graphs)
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
