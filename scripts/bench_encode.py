"""Corpus-encoding throughput on a GPU: ours beside sentence-transformers, one table from one run.

    python scripts/bench_encode.py --model DIR [--dataset beir-v1.0.0-scifact] [--repeats 3]

Rows: all-MiniLM-L6-v2 and a BERT-base-sized encoder (random weights, same tokenizer) over the SciFact texts
(title + " " + text, max length 256). FLOPs are counted from each document's real token count (matmuls and
attention, no padding), so the share of the 798 TFLOP/s bf16 ceiling is the useful work done.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

PEAK_TFLOPS = 798.0


def flops_per_doc(config, lengths) -> float:
    """2 x multiply-adds of the encoder layers over the real tokens, per document on average."""
    d = config.hidden_size
    ff = config.intermediate_size
    layers = config.num_hidden_layers
    total = 0.0
    for n in lengths:
        total += layers * (2 * n * (4 * d * d + 2 * d * ff) + 4 * n * n * d)
    return total / len(lengths)


def timed(fn, repeats: int) -> float:
    import torch

    fn()  # warm-up: kernels, allocator, tokenizer caches
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    import torch
    from transformers import BertConfig

    from pyserini_dr.data.corpus import read_corpus
    from pyserini_dr.data.registry import resolve_corpus
    from pyserini_dr.encode._encoder import DenseEncoder
    from pyserini_dr.encode.corpus import CorpusEncoder

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="all-MiniLM-L6-v2 directory")
    parser.add_argument("--dataset", default="beir-v1.0.0-scifact")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, nargs="+", default=[131072])
    parser.add_argument("--slice", type=int, default=2048, help="documents tokenized per background step")
    args = parser.parse_args()

    docs = read_corpus(resolve_corpus(args.dataset))
    pairs = [(d.title, d.text) for d in docs]
    texts = [d.contents for d in docs]
    n = len(docs)

    base_dir = "/tmp/bench-bert-base"
    if not os.path.isdir(base_dir):  # BERT-base shape, random weights, MiniLM's (bert-base-uncased) tokenizer
        from transformers import AutoTokenizer, BertModel
        cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=512)
        torch.manual_seed(0)
        BertModel(cfg).save_pretrained(base_dir)
        AutoTokenizer.from_pretrained(args.model).save_pretrained(base_dir)

    rows = []
    for label, path, pooling in [("all-MiniLM-L6-v2", args.model, None), ("BERT-base-sized", base_dir, "mean")]:
        ref = DenseEncoder(path, device="cuda", pooling=pooling, l2_norm=True if pooling else None)
        t = time.perf_counter()
        ref.passage_ids(pairs)
        print(f"{label}: tokenizing {n} passages took {time.perf_counter() - t:.3f}s", flush=True)
        lengths = [len(x) for x in ref.passage_ids(pairs)["input_ids"]]
        fpd = flops_per_doc(ref.passage_model.config, lengths)
        del ref
        from sentence_transformers import SentenceTransformer
        for dtype in ("float32", "float16"):
            st = SentenceTransformer(path, device="cuda")
            st.max_seq_length = 256
            if dtype == "float16":
                st = st.half()
            secs = timed(lambda: st.encode(texts, batch_size=32, convert_to_numpy=True), args.repeats)
            rows.append((label, f"sentence-transformers encode, {dtype}, batch 32", n / secs, fpd))
            del st
            torch.cuda.empty_cache()
        for dtype in ("bfloat16", "float16"):
            enc = DenseEncoder(path, device="cuda", dtype=dtype, pooling=pooling, l2_norm=True if pooling else None)
            for budget in args.batch_tokens:
                ce = CorpusEncoder(enc, batch_tokens=budget, max_batch=4096, tokenize_slice=args.slice)
                secs = timed(lambda: ce.encode_pairs(pairs), args.repeats)
                rows.append((label, f"pyserini-dr CorpusEncoder, {dtype}, {budget} tokens/batch", n / secs, fpd))
            del enc
            torch.cuda.empty_cache()

    print(f"\nencoding {n:,} {args.dataset} texts (max length 256) on {torch.cuda.get_device_name()}, "
          f"median of {args.repeats}; share of the {PEAK_TFLOPS:.0f} TFLOP/s bf16 ceiling")
    print(f"| model             | encoder                                               |  docs/s | TFLOP/s | ceiling |")
    print(f"|-------------------|-------------------------------------------------------|---------|---------|---------|")
    for label, what, dps, fpd in rows:
        tf = dps * fpd / 1e12
        print(f"| {label:<17} | {what:<53} | {dps:7,.0f} | {tf:7.1f} | {100 * tf / PEAK_TFLOPS:6.1f}% |")


if __name__ == "__main__":
    main()
