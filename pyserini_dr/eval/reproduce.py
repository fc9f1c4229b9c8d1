"""python -m pyserini_dr.eval.reproduce MATRIX.yaml [--work DIR] [--output-md F] [--output-html F] [--only NAME ...]

Runs a reproduction matrix and checks every score against its expected value. The file's keys and placeholders:
``matrix.py``; running and scoring: ``runner.py``; the tables: ``tables.py``.

Each run is scored with :func:`pyserini_dr.eval.evaluate` (trec_eval ``-c``). Standard output gets a line per
condition as it runs, then a table (a column per metric, and the published figures with their source when the
matrix gives them), then the verdict. The Markdown and HTML tables (default ``eval/results/<matrix>.md|html``
beside the matrix) list expected, got, delta, OK/DRIFT and the published figure per metric.
Exit 0 when all scores are within tolerance, 1 when any drifts or a command fails (the tables are still
written), 2 for a malformed matrix (one line naming the file and the key).
"""
from __future__ import annotations

import os
import time

from ..cli import ArgumentParser, run_main
from ..errors import InputError
from ..files import atomic_write
from .matrix import load_matrix
from .runner import check_qrels, run_conditions
from .tables import console_table, html_table, markdown, summary


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.reproduce",
                                     description="Run a reproduction matrix and check every score against its "
                                                 "expected value (exit 1 on drift or failure).")
    parser.add_argument("matrix", help="matrix YAML, e.g. eval/scifact.yaml")
    parser.add_argument("--work", help="where indexes and runs are kept (default: work/<matrix file name>)")
    parser.add_argument("--output-md", help="Markdown table (default: <matrix dir>/results/<matrix name>.md)")
    parser.add_argument("--output-html", help="HTML table (default: <matrix dir>/results/<matrix name>.html)")
    parser.add_argument("--only", nargs="+", action="extend", metavar="CONDITION",
                        help="run only these conditions; the tables are then written only where "
                             "--output-md/--output-html say")
    args = parser.parse_args(argv)

    matrix = load_matrix(args.matrix)
    conditions = matrix.select(args.only)
    stem = os.path.splitext(os.path.basename(args.matrix))[0]
    work = os.path.abspath(args.work or os.path.join("work", stem))
    results = os.path.join(os.path.dirname(os.path.abspath(args.matrix)), "results")
    md_path = args.output_md or (None if args.only else os.path.join(results, f"{stem}.md"))
    html_path = args.output_html or (None if args.only else os.path.join(results, f"{stem}.html"))
    for path in (md_path, html_path):
        if path and os.path.isdir(path):
            raise InputError(f"{path} is a directory, not a file to write")
    check_qrels(args.matrix, conditions)

    os.makedirs(work, exist_ok=True)
    print(f"{matrix.name}: {len(conditions)} conditions, work dir {work}", flush=True)
    started = time.time()
    rows = run_conditions(conditions, work)
    seconds = time.time() - started

    for path, render in ((md_path, markdown), (html_path, html_table)):
        if path:
            with atomic_write(path) as f:
                f.write(render(matrix, rows, seconds, work))
    print(f"\n{console_table(matrix, rows)}")
    print(summary(rows, seconds))
    written = [p for p in (md_path, html_path) if p]
    if written:
        print(f"tables: {', '.join(written)}")
    return 0 if all(r.green for r in rows) else 1


if __name__ == "__main__":
    run_main(main)
