"""Training throughput on a GPU: our loop beside sentence-transformers, same model, data, batch and lengths.

    python scripts/bench_train.py --model DIR --train-data train.jsonl [--dataset beir-v1.0.0-scifact]
        [--epochs 3] [--batch-size 64]

Both train all-MiniLM-L6-v2 with in-batch negatives + one BM25 hard negative per query (sentence-transformers:
MultipleNegativesRankingLoss on (anchor, positive, negative) rows; ours: the warmup recipe), bf16, lr 2e-5,
max length 256, for the same number of epochs over the same (query, positive, negative) rows. Examples/s is
rows trained / wall time of the training call (start-up inside the call included for both).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def sentence_transformers_rows(examples, corpus, seed: int):
    """One row per query: its first positive and one hard negative drawn from its BM25 pool."""
    rng = random.Random(seed)
    rows = {"anchor": [], "positive": [], "negative": []}
    for ex in examples:
        rows["anchor"].append(ex.query)
        rows["positive"].append(corpus[ex.positives[0]])
        rows["negative"].append(corpus[rng.choice(ex.negatives)])
    return rows


def bench_sentence_transformers(model_dir, rows, args) -> tuple[str, float, int]:
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cuda").float()  # fp32 master weights, as ours
    model.max_seq_length = 256
    try:
        import datasets  # noqa: F401  (SentenceTransformerTrainer needs it)
    except ImportError:
        return ("sentence-transformers MNRL, plain loop (no `datasets` here for its trainer)",
                *plain_loop(model, rows, args))
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses

    out = tempfile.mkdtemp()
    targs = SentenceTransformerTrainingArguments(
        output_dir=out, num_train_epochs=args.epochs, per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_ratio=0.1, bf16=True, save_strategy="no", report_to=[], logging_steps=1000,
        dataloader_drop_last=True, seed=args.seed)
    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=Dataset.from_dict(rows),
                                         loss=losses.MultipleNegativesRankingLoss(model))
    torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.train()
    torch.cuda.synchronize()
    steps = trainer.state.global_step
    return "sentence-transformers MNRL (SentenceTransformerTrainer)", time.perf_counter() - started, \
        steps * args.batch_size


def plain_loop(model, rows, args) -> tuple[float, int]:
    """sentence-transformers' model and MultipleNegativesRankingLoss in a plain loop: AdamW, bf16 autocast."""
    import torch
    from sentence_transformers import losses

    loss_fn = losses.MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    n = len(rows["anchor"])
    torch.cuda.synchronize()
    started = time.perf_counter()
    trained = 0
    for epoch in range(args.epochs):
        order = list(range(n))
        random.Random(epoch).shuffle(order)
        for i in range(0, n - args.batch_size + 1, args.batch_size):
            idx = order[i:i + args.batch_size]
            features = [model.tokenize([rows[c][j] for j in idx]) for c in ("anchor", "positive", "negative")]
            features = [{k: v.to("cuda") for k, v in f.items() if hasattr(v, "to")} for f in features]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = loss_fn(features, None)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            trained += len(idx)
    torch.cuda.synchronize()
    return time.perf_counter() - started, trained


def bench_ours(args, extra: list[str]) -> tuple[float, int, dict]:
    import torch

    from pyserini_dr.train.__main__ import build, parse_args

    out = tempfile.mkdtemp()
    targs = parse_args(["--recipe", "warmup", "--model", args.model, "--train-data", args.train_data,
                        "--dataset", args.dataset, "--output", out, "--epochs", str(args.epochs),
                        "--batch-size", str(args.batch_size), "--negatives", "1", "--lr", "2e-5", "--bf16",
                        "--max-length", "256", "--query-max-length", "256", "--seed", str(args.seed), *extra])
    trainer = build(targs)
    torch.cuda.synchronize()
    started = time.perf_counter()
    summary = trainer.train()
    torch.cuda.synchronize()
    return time.perf_counter() - started, summary["steps"] * args.batch_size, summary


def main() -> None:
    import torch
    import transformers

    from pyserini_dr.data.corpus import read_corpus
    from pyserini_dr.data.registry import resolve_corpus
    from pyserini_dr.train.examples import read_examples

    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--train-data", required=True)
    p.add_argument("--dataset", default="beir-v1.0.0-scifact")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--trials", type=int, default=2)
    args = p.parse_args()

    corpus = {d.docid: d.contents for d in read_corpus(resolve_corpus(args.dataset))}
    examples = read_examples(args.train_data)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, transformers {transformers.__version__}; "
          f"{len(examples)} queries x {args.epochs} epochs, batch {args.batch_size}, 1 hard negative, bf16, "
          f"max length 256", flush=True)
    results = []
    rows_st = sentence_transformers_rows(examples, corpus, args.seed)
    for trial in range(1, args.trials + 1):  # alternated, so drift of the machine hits both alike
        st_name, st_seconds, st_rows = bench_sentence_transformers(args.model, rows_st, args)
        results.append((f"{st_name}, trial {trial}", st_seconds, st_rows, None))
        seconds, rows, summary = bench_ours(args, [])
        results.append((f"ours: warmup recipe, trial {trial}", seconds, rows, summary["train_seconds"]))
    print("| loop | examples | seconds | examples/s | vs sentence-transformers (same trial) | steps only (ours) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for i, (name, secs, n, steps_s) in enumerate(results):
        base = results[i - i % 2][2] / results[i - i % 2][1]
        steps = f"{steps_s:.1f} s, {n / steps_s:,.0f}/s" if steps_s else ""
        print(f"| {name} | {n:,} | {secs:.1f} | {n / secs:,.0f} | {n / secs / base:.2f}x | {steps} |", flush=True)


if __name__ == "__main__":
    main()
