"""Corpus-encoding throughput on a GPU: ours beside sentence-transformers, one table from one run.

    python scripts/bench_encode.py --model DIR [--dataset beir-v1.0.0-scifact] [--repeats 3]

Rows: all-MiniLM-L6-v2 and a BERT-base-sized encoder (random weights, same tokenizer) over the SciFact texts
(title + " " + text, max length 256). The first call of each setting is a warm-up (kernels, allocator, the
tokenizer worker processes' start). FLOPs are counted from each document's real token count (matmuls and
attention, no padding), so the share of the 798 TFLOP/s bf16 ceiling is the useful work done.

With several ``--batch-tokens`` (the padded batch's token budget, 131072 by default), the worker-process rows are
run for each. ``--candidates`` adds bf16 rows with other CorpusEncoder settings, one for each count of
``--tokenizer-processes`` and one with the model alone; e.g. ``cuda_graphs=0,width_drop=0,first_slice=128`` (the
settings before session 10; ``switch_ms=50`` sets Python's GIL switch interval while encoding). ``--device cpu
--limit 200`` tries the script out where there is no GPU.
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


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: kernels, allocator, tokenizer caches
    times = []
    for _ in range(repeats):
        synchronize()
        t = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def row(label: str, what: str, docs_per_s: float, flops: float) -> tuple:
    tf = docs_per_s * flops / 1e12
    print(f"| {label:<17} | {what:<84} | {docs_per_s:7,.0f} | {tf:7.1f} | {100 * tf / PEAK_TFLOPS:6.1f}% |", flush=True)
    return label, what, docs_per_s, flops


def settings(text: str) -> dict:
    """``key=value,...`` as CorpusEncoder keyword arguments (numbers where they parse as numbers)."""
    out = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def main() -> None:
    import torch
    from transformers import BertConfig

    from pyserini_dr.data.corpus import read_corpus
    from pyserini_dr.data.registry import resolve_corpus
    from pyserini_dr.encode.encoder import DenseEncoder
    from pyserini_dr.encode.tokenize import PassageTokenizer
    from pyserini_dr.encode.corpus import CorpusEncoder

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="all-MiniLM-L6-v2 directory")
    parser.add_argument("--dataset", default="beir-v1.0.0-scifact")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script out (with --limit)")
    parser.add_argument("--limit", type=int, default=None, help="the corpus's first N documents only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, nargs="+", default=[131072])
    parser.add_argument("--compile", action="store_true", help="add a torch.compile row (slow to start)")
    parser.add_argument("--tokenizer-processes", type=int, nargs="+", default=[2, 4, 8],
                        help="a row for each count of tokenizer worker processes")
    parser.add_argument("--candidates", nargs="*", default=[], type=settings,
                        help="bf16 rows with these CorpusEncoder settings (key=value,...), for each count of worker "
                             "processes and for the model alone; switch_ms=M sets the GIL switch interval")
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float16"])
    args = parser.parse_args()

    docs = read_corpus(resolve_corpus(args.dataset))[:args.limit]
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
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
        ref = DenseEncoder(path, device=args.device, pooling=pooling, l2_norm=True if pooling else None)
        t = time.perf_counter()
        ref.passage_ids(pairs)
        print(f"{label}: tokenizing {n} passages took {time.perf_counter() - t:.3f}s "
              f"(Python WordPiece for ASCII texts: {ref.rust_tokenizer().wordpiece is not None})", flush=True)
        inputs = ref._passage_inputs(pairs)
        for python_wordpiece in (False, True):
            tokenizer = PassageTokenizer(ref.rust_tokenizer().spec, 256, python_wordpiece=python_wordpiece)
            t = time.perf_counter()
            tokenizer.ids(inputs)
            print(f"  PassageTokenizer.ids, Python WordPiece {python_wordpiece}: {time.perf_counter() - t:.3f}s",
                  flush=True)
        lengths = [len(x) for x in ref.passage_ids(pairs)["input_ids"]]
        fpd = flops_per_doc(ref.passage_model.config, lengths)
        del ref
        from sentence_transformers import SentenceTransformer
        for dtype in ("float32", "float16"):
            st = SentenceTransformer(path, device=args.device)
            st.max_seq_length = 256
            if dtype == "float16":
                st = st.half()
            secs = timed(lambda: st.encode(texts, batch_size=32, convert_to_numpy=True), args.repeats)
            rows.append(row(label, f"sentence-transformers encode, {dtype}, batch 32", n / secs, fpd))
            st = None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        for dtype in args.dtypes:
            enc = DenseEncoder(path, device=args.device, dtype=dtype, pooling=pooling,
                               l2_norm=True if pooling else None)
            last = args.batch_tokens[-1]
            # (what, CorpusEncoder settings, the model-alone row that follows, if any)
            variants = [(f"{b} tokens/batch", dict(batch_tokens=b), f"{b} tokens/batch") for b in args.batch_tokens]
            # worker rows for every token budget given (named by it where there are several)
            variants += [(f"{n} worker processes, {b} tokens/batch" if len(args.batch_tokens) > 1
                          else f"tokenized in {n} worker processes", dict(batch_tokens=b, tokenizer_processes=n), None)
                         for b in args.batch_tokens for n in args.tokenizer_processes]
            if dtype == "bfloat16":
                for candidate in args.candidates:
                    named = ",".join(f"{k}={v}" for k, v in candidate.items())
                    variants += [(f"{n} workers, {named}", dict(batch_tokens=last, **candidate, tokenizer_processes=n),
                                  named if n == args.tokenizer_processes[-1] else None)
                                 for n in args.tokenizer_processes]
            variants.append(("tokenize slices up to 4096", dict(batch_tokens=last, sort_slice=4096), None))
            if dtype == "bfloat16" and args.compile:
                variants.append(("torch.compile", dict(batch_tokens=last, compile=True), "torch.compile"))
            for what, kwargs, model_alone in variants:
                kwargs = dict(kwargs)
                switch = kwargs.pop("switch_ms", None)
                with CorpusEncoder(enc, max_batch=4096, **kwargs) as ce:  # its workers serve all of its calls
                    default_switch = sys.getswitchinterval()
                    sys.setswitchinterval(default_switch if switch is None else switch / 1000)
                    secs = timed(lambda: ce.encode_pairs(pairs), args.repeats)
                    sys.setswitchinterval(default_switch)
                    rows.append(row(label, f"pyserini-dr {dtype}, {what}", n / secs, fpd))
                    if model_alone:
                        features = enc.passage_ids(pairs)  # the device alone: tokenized beforehand
                        out = torch.empty((n, enc.dimension), device=args.device)
                        secs = timed(lambda: ce._encode_features(features, out, 0), args.repeats)
                        rows.append(row(label, f"  (device only, pre-tokenized, {model_alone})", n / secs, fpd))
                enc.passage_model.forward = type(enc.passage_model).forward.__get__(enc.passage_model)
            del enc
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    print(f"\nencoding {n:,} {args.dataset} texts (max length 256) on {device_name}, "
          f"median of {args.repeats}; share of the {PEAK_TFLOPS:.0f} TFLOP/s bf16 ceiling")
    print(f"| {'model':<17} | {'encoder':<84} |  docs/s | TFLOP/s | ceiling |")
    print(f"|{'-' * 19}|{'-' * 86}|---------|---------|---------|")
    for r in rows:
        row(*r)
    from pyserini_dr.encode.tokenize.passages import PYTHON_WORDPIECE_MAX_THREADS
    from pyserini_dr.encode.tokenize.workers import worker_threads
    cores = os.cpu_count() or 1
    python_wp = [k for k in args.tokenizer_processes if worker_threads(k) <= PYTHON_WORDPIECE_MAX_THREADS]
    print(f"{cores} cores; N worker processes get (cores - 2) / N Rust threads each and tokenize ASCII texts with the "
          f"Python WordPiece where that is <= {PYTHON_WORDPIECE_MAX_THREADS}: N in {python_wp}; the one-thread rows "
          "use the Rust tokenizer on all cores")


if __name__ == "__main__":
    main()
