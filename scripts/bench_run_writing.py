"""The way from a dense backend's arrays to a run file: tuples + write_run (before) against RankedArrays.write (now).

    python scripts/bench_run_writing.py [--queries 6980] [--hits 1000] [--docs 8841823] [--repeats 3] [--output FILE]

Synthetic hits (seed 0; scores sorted per query, as the backends return them) of MS MARCO's shape: the dev queries,
top 1,000, passage ids 0..N-1. Both paths write the same bytes (checked here and in tests/test_ranked_arrays.py);
the docid array (built once per searcher) is timed apart. Minimum of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pyserini_dr.data.ranked_arrays import RankedArrays  # noqa: E402
from pyserini_dr.data.runs import write_run  # noqa: E402


def before(qids, docids, rows, scores, path, fmt):
    run = {q: [(docids[r], float(s)) for s, r in zip(scores[i], rows[i]) if r >= 0] for i, q in enumerate(qids)}
    write_run(run, path, output_format=fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=6980)
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--docs", type=int, default=8_841_823)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", help="append the table here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scores = -np.sort(-rng.random((args.queries, args.hits), dtype=np.float32), axis=1)
    rows = rng.integers(0, args.docs, (args.queries, args.hits))
    docids = [str(i) for i in range(args.docs)]
    qids = [str(1_000_000 + i) for i in range(args.queries)]
    started = time.perf_counter()
    docid_array = np.array(docids, dtype=object)
    array_seconds = time.perf_counter() - started
    lines = [f"`python scripts/bench_run_writing.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d')}, "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores): {args.queries:,} queries x "
             f"{args.hits:,} hits, {args.docs:,} docids; docid array built once: {array_seconds:.2f} s", "",
             "| format | before: tuples + write_run (s) | now: RankedArrays.write (s) | same bytes |",
             "| --- | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("msmarco", "trec"):
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            old = new = float("inf")
            for _ in range(args.repeats):
                t = time.perf_counter()
                before(qids, docids, rows, scores, a, fmt)
                old = min(old, time.perf_counter() - t)
                t = time.perf_counter()
                RankedArrays(qids, docid_array, rows, scores).write(b, output_format=fmt)
                new = min(new, time.perf_counter() - t)
            same = open(a, "rb").read() == open(b, "rb").read()
            lines.append(f"| {fmt} | {old:.2f} | {new:.2f} | {'yes' if same else 'NO'} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output:
        with open(args.output, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
