"""Passage tokenization throughput on the CPU (the limit of corpus encoding on a GPU host): one table from one run.

    python scripts/bench_tokenize.py --model DIR [--dataset beir-v1.0.0-scifact] [--repeats 5] [--processes 2 4]

Rows, over the corpus's title + " " + text at max length 256, each giving the ids the full tokenizer gives:
transformers' tokenizer call (the reference), PassageTokenizer with the Rust tokenizer for every text, with the
Python WordPiece (the Rust tokenizer only for runs of non-ASCII words), and CorpusEncoder's slices tokenized by N
worker processes (what encoding on a GPU overlaps with the device). Median of the repeats after one warm-up call.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process (its threads, not worker processes)."""
    fn()
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return sorted(times)[len(times) // 2], sorted(cpu)[len(cpu) // 2]


def main() -> None:
    from pyserini_dr.data.corpus import read_corpus
    from pyserini_dr.data.registry import resolve_corpus
    from pyserini_dr.encode.encoder import load_tokenizer
    from pyserini_dr.encode.tokenize import PassageTokenizer, TokenizerProcesses
    from pyserini_dr.encode.tokenize.passages import rust_threads
    from pyserini_dr.encode.corpus import CorpusEncoder

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="a model directory with a fast tokenizer")
    parser.add_argument("--dataset", default="beir-v1.0.0-scifact")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--processes", type=int, nargs="*", default=[2, 4])
    args = parser.parse_args()

    texts = [d.contents for d in read_corpus(resolve_corpus(args.dataset))]
    n = len(texts)
    hf = load_tokenizer(args.model)
    spec = hf.backend_tokenizer.to_str()
    expected = hf(texts, max_length=256, truncation=True)["input_ids"]
    rows = [("transformers tokenizer(texts, max_length=256, truncation=True)",
             timed(lambda: hf(texts, max_length=256, truncation=True), args.repeats))]
    for python_wordpiece in (False, True):
        tokenizer = PassageTokenizer(spec, 256, python_wordpiece=python_wordpiece)
        assert [list(x) for x in tokenizer.ids(texts)] == expected, "ids differ from the full tokenizer's"
        what = "Python WordPiece, Rust for non-ASCII words" if python_wordpiece else "Rust tokenizer for all texts"
        rows.append((f"PassageTokenizer.ids, {what}", timed(lambda: tokenizer.ids(texts), args.repeats)))
    slices = [texts[a:b] for a, b in CorpusEncoder(None, sort_slice=1024)._slices(n)]
    for processes in args.processes:
        workers = TokenizerProcesses(PassageTokenizer(spec, 256), processes)
        try:
            got = [x for f in [workers.submit(s, False) for s in slices] for x in f.result()["input_ids"]]
            assert [list(x) for x in got] == expected, "ids differ from the full tokenizer's"
            secs, _ = timed(lambda: [f.result() for f in [workers.submit(s, False) for s in slices]], args.repeats)
        finally:
            workers.close()
        rows.append((f"{processes} worker processes, CorpusEncoder's slices", (secs, None)))

    cores = os.cpu_count() or 1
    print(f"tokenizing {n:,} {args.dataset} texts (max length 256) on {cores} cores ({rust_threads()} Rust threads "
          f"in this process), median of {args.repeats}; every row gives the full tokenizer's ids")
    print(f"| {'tokenizer':<64} | seconds |  CPU s |  docs/s |")
    print(f"|{'-' * 66}|---------|--------|---------|")
    for what, (secs, cpu) in rows:
        print(f"| {what:<64} | {secs:7.3f} | {'-' if cpu is None else f'{cpu:.3f}':>6} | {n / secs:7,.0f} |")
    print("worker processes get (cores - 2) / N Rust threads each and use the Python WordPiece where that is <= 4; "
          "CPU s: this process's threads (workers not counted)")


if __name__ == "__main__":
    main()
