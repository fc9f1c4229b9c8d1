"""python -m pyserini_dr.eval.beir --runs SYSTEM=PATTERN ... --datasets NAME ... [--output TABLE.md]

A BEIR summary table: nDCG@10 and R@100 (trec_eval -c) of each system on each dataset, and their average.
PATTERN names a system's run file with ``{dataset}`` standing for the dataset's name, e.g.
``--runs bm25=runs/{dataset}.bm25.txt``. A dataset is a BEIR name (``scifact`` -> qrels
``beir-v1.0.0-scifact-test``), another qrels name (``cranfield``), or ``NAME=QRELS`` (a name or a file). A run
that does not exist leaves its cells as ``-``; a system's average is given only when it has every dataset.
"""
from __future__ import annotations

import os
import sys

from ..cli import ArgumentParser, run_main
from ..files import atomic_write
from ..data.qrels import read_qrels
from ..data.registry import TOPICS, resolve_qrels
from ..data.runs import read_run
from ..errors import InputError
from .metrics import evaluate, measure_label, parse_measures

DEFAULT_MEASURES = ["ndcg_cut.10", "recall.100"]


def dataset_qrels(spec: str) -> tuple[str, str]:
    """``scifact`` -> (scifact, beir-v1.0.0-scifact-test); ``cranfield`` -> itself; ``NAME=QRELS`` as given."""
    if "=" in spec:
        name, _, qrels = spec.partition("=")
        if not name or not qrels:
            raise InputError(f"--datasets takes NAME or NAME=QRELS, got {spec!r}")
        return name, qrels
    beir = f"beir-v1.0.0-{spec}-test"
    return spec, beir if beir in TOPICS else spec


def system_pattern(spec: str) -> tuple[str, str]:
    name, sep, pattern = spec.partition("=")
    if not sep or not name or not pattern:
        raise InputError(f"--runs takes SYSTEM=PATTERN, got {spec!r}")
    if "{dataset}" not in pattern:
        raise InputError(f"--runs {spec!r}: the pattern needs {{dataset}} where the dataset name goes")
    return name, pattern


def summarize(systems: dict[str, str], datasets: dict[str, str], measures: list[str]) -> dict:
    """{(system, dataset): {measure: score}} for the runs that exist."""
    scores = {}
    for dataset, qrels_name in datasets.items():
        qrels = None
        for system, pattern in systems.items():
            path = pattern.replace("{dataset}", dataset)
            if not os.path.isfile(path):
                continue
            if qrels is None:
                qrels = read_qrels(resolve_qrels(qrels_name))
            scores[(system, dataset)] = evaluate(qrels, read_run(path), measures)
    return scores


def markdown_table(scores: dict, systems: list[str], datasets: list[str], measures: list[str]) -> str:
    header = ["dataset"] + [f"{s} {measure_label(m)}" for s in systems for m in measures]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for d in datasets:
        cells = [f"{scores[(s, d)][m]:.4f}" if (s, d) in scores else "-" for s in systems for m in measures]
        lines.append("| " + " | ".join([d] + cells) + " |")
    avg = []
    for s in systems:
        complete = all((s, d) in scores for d in datasets)
        for m in measures:
            avg.append(f"{sum(scores[(s, d)][m] for d in datasets) / len(datasets):.4f}" if complete else "-")
    lines.append("| " + " | ".join(["**average**"] + avg) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.beir", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", action="extend", required=True, metavar="SYSTEM=PATTERN",
                        help="run files of a system, {dataset} standing for the dataset name")
    parser.add_argument("--datasets", nargs="+", action="extend", required=True, metavar="NAME[=QRELS]")
    parser.add_argument("--measures", nargs="+", default=DEFAULT_MEASURES, help="trec_eval measures")
    parser.add_argument("--output", help="also write the Markdown table here")
    args = parser.parse_args(argv)

    systems = dict(system_pattern(s) for s in args.runs)
    datasets = dict(dataset_qrels(d) for d in args.datasets)
    measures = parse_measures(args.measures)
    scores = summarize(systems, datasets, measures)
    if not scores:
        raise InputError("no run file found for any system and dataset (check the {dataset} patterns)")
    table = markdown_table(scores, list(systems), list(datasets), measures)
    sys.stdout.write(table)
    missing = [(s, d) for s in systems for d in datasets if (s, d) not in scores]
    if missing:
        print(f"{len(missing)} run(s) missing, e.g. {systems[missing[0][0]].replace('{dataset}', missing[0][1])}",
              file=sys.stderr)
    if args.output:
        with atomic_write(args.output) as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    run_main(main)
