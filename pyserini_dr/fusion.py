"""Run fusion as ``pyserini.fusion`` does it (pyserini/fusion/_base.py, pyserini/trectools/_base.py): reciprocal
rank fusion, interpolation, average and normalize, plus CombSUM/CombMNZ. (The hybrid searcher's dense + sparse rule
is ``pyserini_dr.search.hybrid.interpolation``.)

    python -m pyserini_dr.fusion --runs A B [...] --method rrf|interpolation|average|normalize|combsum|combmnz
        [--alpha 0.5] [--rrf.k 60] [--depth 1000] [--k 1000] [--resort] [--normalization] [--runtag T] --output OUT

Inputs are runs read from files (``data.runs.read_ranked_run``: each query's lines in file order with the file's
ranks, which Pyserini's RRF and depth use) or runs built in Python (qid -> [(docid, score)], ranked as
``sort_hits`` orders them). Missing documents add nothing; the fused list is ordered by score, then docid.
"""
from __future__ import annotations

import sys

from .data.runs import Run, read_ranked_run, sort_hits, write_run
from .errors import InputError

METHODS = ("rrf", "interpolation", "average", "normalize", "combsum", "combmnz")


def _ranked(hits: list) -> list[tuple[str, float, int]]:
    """(docid, score, rank): a file's lines as they are; a Python run's hits in ``sort_hits`` order, ranked 1, 2, ..."""
    if hits and len(hits[0]) == 3:
        return hits
    return [(d, s, r) for r, (d, s) in enumerate(sort_hits(hits), 1)]


def _cut(run, depth: int | None) -> dict[str, list[tuple[str, float, int]]]:
    """Each query's first ``depth`` hits (Pyserini: ``groupby(topic).head(depth)``)."""
    return {qid: _ranked(hits)[:depth] for qid, hits in run.items()}


def min_max(hits: list) -> list[tuple[str, float]]:
    """Scores of one query scaled to [0, 1]; all equal -> 1, as pyserini's ``RescoreMethod.NORMALIZE``."""
    if not hits:
        return []
    lo, hi = min(h[1] for h in hits), max(h[1] for h in hits)
    return [(h[0], (h[1] - lo) / (hi - lo) if hi > lo else 1.0) for h in hits]


def _sum(runs: list[dict], weights: list[float], hits: int | None, mnz: bool = False) -> Run:
    """Sum of weighted scores over the runs; a document missing from a run adds nothing."""
    fused: Run = {}
    for qid in dict.fromkeys(q for run in runs for q in run):
        total: dict[str, float] = {}
        count: dict[str, int] = {}
        for run, w in zip(runs, weights):
            for docid, score, *_ in run.get(qid, []):
                total[docid] = total.get(docid, 0.0) + w * score
                count[docid] = count.get(docid, 0) + 1
        if mnz:
            total = {d: s * count[d] for d, s in total.items()}
        fused[qid] = sort_hits(total.items())[:hits]
    return fused


def _normalized(run: dict) -> dict:
    """Each query's scores min-max scaled over all its hits, before any depth cut (as pyserini rescores the whole
    run before merging), ranks kept."""
    out = {}
    for qid, hits in run.items():
        ranked = _ranked(hits)
        out[qid] = [(d, s, r) for (d, s), (_, _, r) in zip(min_max(ranked), ranked)]
    return out


def reciprocal_rank_fusion(runs: list, rrf_k: int = 60, depth: int | None = None, hits: int | None = None) -> Run:
    """Cormack et al. (SIGIR 2009): score = sum over runs of 1 / (rrf_k + rank)."""
    ranked = [{qid: [(d, 1.0 / (rrf_k + r)) for d, _, r in h] for qid, h in _cut(run, depth).items()} for run in runs]
    return _sum(ranked, [1.0] * len(runs), hits)


def interpolation(runs: list, alpha: float = 0.5, normalization: bool = False, depth: int | None = None,
                  hits: int | None = None) -> Run:
    """alpha * first + (1 - alpha) * second (pyserini.fusion.interpolation); ``normalization`` min-max scales each
    query's scores first (ours; Pyserini's ``normalize`` method sums them unweighted)."""
    if len(runs) != 2:
        raise InputError(f"interpolation fuses exactly two runs, got {len(runs)}")
    runs = [_cut(_normalized(r) if normalization else r, depth) for r in runs]
    return _sum(runs, [alpha, 1.0 - alpha], hits)


def comb(runs: list, mnz: bool = False, normalization: bool = False, depth: int | None = None,
         hits: int | None = None) -> Run:
    """CombSUM (sum of scores) or CombMNZ (that sum times the number of runs retrieving the document)."""
    runs = [_cut(_normalized(r) if normalization else r, depth) for r in runs]
    return _sum(runs, [1.0] * len(runs), hits, mnz)


def fuse(runs: list, method: str, *, alpha: float = 0.5, rrf_k: int = 60, normalization: bool = False,
         depth: int | None = None, hits: int | None = None) -> Run:
    if method == "rrf":
        return reciprocal_rank_fusion(runs, rrf_k, depth, hits)
    if method == "interpolation":
        return interpolation(runs, alpha, normalization, depth, hits)
    if method == "average":  # pyserini.fusion.average: each run scaled by 1 / n, summed
        return _sum([_cut(r, depth) for r in runs], [1.0 / len(runs)] * len(runs), hits)
    if method == "normalize":  # pyserini.fusion.normalize: each query's scores min-max scaled, summed
        return comb(runs, normalization=True, depth=depth, hits=hits)
    if method in ("combsum", "combmnz"):
        return comb(runs, method == "combmnz", normalization, depth, hits)
    raise InputError(f"unknown fusion method {method!r} ({', '.join(METHODS)})")


def resorted(run: dict) -> dict:
    """Pyserini's ``--resort``: each query's lines by score (ties in file order), ranked anew."""
    return {q: [(d, s, r) for r, (d, s, _) in enumerate(sorted(h, key=lambda x: -x[1]), 1)] for q, h in run.items()}


def pyserini_topic_order(run: Run) -> Run:
    """Queries in the order ``pyserini.fusion`` writes them: numerically where every id is a number, else as text."""
    numeric = all(q.isdigit() for q in run)
    return {q: run[q] for q in sorted(run, key=int if numeric else str)}


def build_parser():
    from .cli import ArgumentParser, finite, non_negative, output_file, positive

    parser = ArgumentParser(prog="python -m pyserini_dr.fusion", description="Fuse run files (pyserini.fusion's "
                            "flags and results).")
    parser.add_argument("--runs", nargs="+", required=True, help="run files (TREC or MS MARCO)")
    parser.add_argument("--method", choices=METHODS, default="rrf")
    parser.add_argument("--alpha", type=finite, default=0.5, help="interpolation: weight of the first run")
    parser.add_argument("--rrf.k", "--rrf-k", dest="rrf_k", type=non_negative, default=60)
    parser.add_argument("--normalization", action="store_true",
                        help="interpolation, combsum, combmnz: min-max normalize each run per query first")
    parser.add_argument("--depth", type=positive, default=1000, help="hits read from each run")
    parser.add_argument("--k", "--hits", dest="hits", type=positive, default=1000, help="hits written per query")
    parser.add_argument("--resort", action="store_true", help="rank each run's lines by score before fusing")
    parser.add_argument("--output", type=output_file, required=True)
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--runtag", "--run-tag", dest="run_tag", default=None)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if len(args.runs) < 2:
        raise InputError("--runs needs at least two run files")
    runs = [read_ranked_run(p) for p in args.runs]
    if args.resort:
        runs = [resorted(r) for r in runs]
    fused = fuse(runs, args.method, alpha=args.alpha, rrf_k=args.rrf_k, normalization=args.normalization,
                 depth=args.depth, hits=args.hits)
    lines = write_run(pyserini_topic_order(fused), args.output, output_format=args.output_format,
                      tag=args.run_tag or f"pyserini-dr-{args.method}", full_precision=True)
    print(f"fused {len(args.runs)} runs with {args.method}: {len(fused):,} queries, {lines:,} hits -> {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from .cli import run_main

    run_main(main)
