"""What pyserini_dr_java.pth adds to every Python start in this environment: one table.

    python scripts/bench_startup.py [--runs 30]

Runs ``python -X importtime -c pass`` (the hook's import is then the only work of ours) and reads the cumulative
import time of ``pyserini_dr.java_setup`` (with the ``pyserini_dr`` package it lives in), beside the whole
interpreter's wall time, over several runs.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def one_run() -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - started
    hook = 0.0
    for line in done.stderr.splitlines():  # "import time: self [us] | cumulative | imported package"
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "pyserini_dr.java_setup":
            hook = int(parts[1]) / 1000
    return hook, wall * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    hooks, walls = [r[0] for r in runs], [r[1] for r in runs]
    if not any(hooks):
        print("pyserini_dr.java_setup is not imported at start-up: is pyserini_dr_java.pth installed?")
        return 1
    print(f"python -c pass in {sys.prefix}, {args.runs} runs (ms): median, min, max")
    print("| what | median | min | max |\n| --- | --- | --- | --- |")
    for name, values in (("pyserini_dr.java_setup import (the hook)", hooks), ("whole interpreter start", walls)):
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
