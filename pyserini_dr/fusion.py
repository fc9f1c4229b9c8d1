"""Run fusion with ``pyserini.fusion``'s semantics: reciprocal rank fusion, interpolation, CombSUM/CombMNZ. (The
hybrid searcher's dense + sparse rule is ``pyserini_dr.search.hybrid.interpolation``.)

    python -m pyserini_dr.fusion --runs A B [...] --method rrf|interpolation|combsum|combmnz [--normalization]
        [--alpha 0.5] [--rrf-k 60] [--depth 1000] [--hits 1000] --output OUT

Runs are dicts qid -> [(docid, score)] (``pyserini_dr.data.runs``); every function returns one.
"""
from __future__ import annotations

import sys

from .data.runs import Run, read_run, sort_hits, write_run
from .errors import InputError

METHODS = ("rrf", "interpolation", "combsum", "combmnz")


def _cut(run: Run, depth: int | None) -> Run:
    return {qid: sort_hits(hits)[:depth] for qid, hits in run.items()}


def min_max(hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Scores of one query scaled to [0, 1] (all equal -> 0), as pyserini's RescoreMethod.NORMALIZE."""
    if not hits:
        return hits
    lo, hi = min(s for _, s in hits), max(s for _, s in hits)
    return [(d, (s - lo) / (hi - lo) if hi > lo else 0.0) for d, s in hits]


def _sum(runs: list[Run], weights: list[float], hits: int | None, mnz: bool = False) -> Run:
    """Sum of weighted scores over the runs; a document missing from a run adds nothing."""
    fused: Run = {}
    for qid in dict.fromkeys(q for run in runs for q in run):
        total: dict[str, float] = {}
        count: dict[str, int] = {}
        for run, w in zip(runs, weights):
            for docid, score in run.get(qid, []):
                total[docid] = total.get(docid, 0.0) + w * score
                count[docid] = count.get(docid, 0) + 1
        if mnz:
            total = {d: s * count[d] for d, s in total.items()}
        fused[qid] = sort_hits(total.items())[:hits]
    return fused


def reciprocal_rank_fusion(runs: list[Run], rrf_k: int = 60, depth: int | None = None,
                           hits: int | None = None) -> Run:
    """Cormack et al. (SIGIR 2009): score = sum over runs of 1 / (rrf_k + rank), rank from 1 in each run."""
    ranked = [{qid: [(d, 1.0 / (rrf_k + r)) for r, (d, _) in enumerate(h, 1)] for qid, h in _cut(run, depth).items()}
              for run in runs]
    return _sum(ranked, [1.0] * len(runs), hits)


def interpolation(runs: list[Run], alpha: float = 0.5, normalization: bool = False, depth: int | None = None,
                  hits: int | None = None) -> Run:
    """alpha * first + (1 - alpha) * second (pyserini.fusion.interpolation); missing documents add 0."""
    if len(runs) != 2:
        raise InputError(f"interpolation fuses exactly two runs, got {len(runs)}")
    runs = [_cut(r, depth) for r in runs]
    if normalization:
        runs = [{q: min_max(h) for q, h in r.items()} for r in runs]
    return _sum(runs, [alpha, 1.0 - alpha], hits)


def comb(runs: list[Run], mnz: bool = False, normalization: bool = False, depth: int | None = None,
         hits: int | None = None) -> Run:
    """CombSUM (sum of scores) or CombMNZ (that sum times the number of runs retrieving the document)."""
    runs = [_cut(r, depth) for r in runs]
    if normalization:
        runs = [{q: min_max(h) for q, h in r.items()} for r in runs]
    return _sum(runs, [1.0] * len(runs), hits, mnz)


def fuse(runs: list[Run], method: str, *, alpha: float = 0.5, rrf_k: int = 60, normalization: bool = False,
         depth: int | None = None, hits: int | None = None) -> Run:
    if method == "rrf":
        return reciprocal_rank_fusion(runs, rrf_k, depth, hits)
    if method == "interpolation":
        return interpolation(runs, alpha, normalization, depth, hits)
    if method in ("combsum", "combmnz"):
        return comb(runs, method == "combmnz", normalization, depth, hits)
    raise InputError(f"unknown fusion method {method!r} ({', '.join(METHODS)})")


def main(argv=None) -> int:
    from .cli import ArgumentParser, non_negative, positive

    parser = ArgumentParser(prog="python -m pyserini_dr.fusion", description="Fuse run files.")
    parser.add_argument("--runs", nargs="+", required=True, help="run files (TREC or MS MARCO)")
    parser.add_argument("--method", choices=METHODS, default="rrf")
    parser.add_argument("--alpha", type=float, default=0.5, help="interpolation: weight of the first run")
    parser.add_argument("--rrf-k", type=non_negative, default=60)
    parser.add_argument("--normalization", action="store_true", help="min-max normalize each run per query first")
    parser.add_argument("--depth", type=positive, default=1000, help="hits read from each run")
    parser.add_argument("--hits", type=positive, default=1000, help="hits written per query")
    parser.add_argument("--output", required=True)
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--run-tag", default=None)
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        raise InputError("--runs needs at least two run files")
    fused = fuse([read_run(p) for p in args.runs], args.method, alpha=args.alpha, rrf_k=args.rrf_k,
                 normalization=args.normalization, depth=args.depth, hits=args.hits)
    lines = write_run(fused, args.output, output_format=args.output_format,
                      tag=args.run_tag or f"pyserini-dr-{args.method}")
    print(f"fused {len(args.runs)} runs with {args.method}: {len(fused):,} queries, {lines:,} hits -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from .cli import run_main

    run_main(main)
