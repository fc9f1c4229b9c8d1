"""Tune the hybrid's alpha (and normalization) on a tuning split, then report on the test split.

    python -m pyserini_dr.search.hybrid.tune dense --index ... sparse --index ... \\
        tune --tune-topics beir-v1.0.0-scifact-train --test-topics beir-v1.0.0-scifact-test \\
             [--metric ndcg_cut.10] [--plot alpha.png] --output run.test.txt [--remove-query]

The dense and sparse lists are retrieved once per split; each alpha only re-fuses them. The tuning and test
topics must not share a query: tuning on the test split is refused.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from ...cli import ArgumentParser, output_file, positive, run_main
from ...files import atomic_path
from ...data.qrels import Qrels, read_qrels
from ...data.registry import resolve_qrels, resolve_topics
from ...data.runs import Run, write_run
from ...errors import InputError
from ...eval.metrics import evaluate, parse_measures
from . import HybridSearch, fuse_components
from .interpolation import AlignedLists

GRIDS = {False: [round(a, 3) for a in np.arange(0.0, 0.305, 0.01)],   # raw scores: BM25 ~10x cosine
         True: [round(a, 3) for a in np.arange(0.0, 2.01, 0.05)]}     # both lists centred and scaled


@dataclass
class Point:
    alpha: float
    normalization: bool
    score: float


def sweep(dense: Run, sparse: Run, qrels: Qrels, metric: str = "ndcg_cut.10", hits: int = 1000,
          grids: dict[bool, list[float]] = GRIDS) -> list[Point]:
    """The metric at each (alpha, normalization); a cutoff metric (ndcg_cut.10) only needs that many hits."""
    cutoff = int(metric.split(".")[1]) if "." in metric and metric.split(".")[0] != "recip_rank" else hits
    aligned = {qid: AlignedLists(dense[qid], sparse.get(qid, [])) for qid in dense}
    points = []
    for normalization, alphas in grids.items():
        for alpha in alphas:
            run = {qid: a.top(alpha, normalization, min(cutoff, hits)) for qid, a in aligned.items()}
            points.append(Point(alpha, normalization, evaluate(qrels, run, [metric])[metric]))
    return points


def best(points: list[Point]) -> Point:
    """Highest score; ties go to the smaller alpha, then to no normalization (the simpler setting)."""
    return max(points, key=lambda p: (round(p.score, 10), -p.alpha, -p.normalization))


def plot(points: list[Point], path: str, metric: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, normalization in zip(axes, (False, True)):
        pts = [p for p in points if p.normalization == normalization]
        ax.plot([p.alpha for p in pts], [p.score for p in pts], marker=".")
        top = best(pts)
        ax.axvline(top.alpha, color="grey", linestyle=":")
        ax.set_title(f"{'normalized' if normalization else 'raw'} scores (best alpha {top.alpha:g}: {top.score:.4f})")
        ax.set_xlabel("alpha (weight of BM25)")
        ax.set_ylabel(metric)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def judged_topics(qrels: Qrels, topics: dict) -> Qrels:
    """The judgements of these topics only: measures average over the qrels' queries (trec_eval -c), so a topics
    file holding part of a dataset's queries (a dev split) would otherwise count every other query as a zero."""
    return {qid: judged for qid, judged in qrels.items() if qid in topics}


def check_disjoint(tune_topics: dict, test_topics: dict) -> None:
    shared = set(tune_topics) & set(test_topics)
    if shared:
        raise InputError(f"the tuning and test topics share {len(shared)} queries: never tune on the test split")


def tune_and_test(searcher: HybridSearch, tune_topics: dict, tune_qrels: Qrels, test_topics: dict, *,
                  metric: str = "ndcg_cut.10", hits: int = 1000, remove_query: bool = False):
    """(points, chosen point, test run) for a HybridSearch."""
    check_disjoint(tune_topics, test_topics)
    dense, sparse = searcher.component_runs(tune_topics, hits, remove_query=remove_query)
    points = sweep(dense, sparse, judged_topics(tune_qrels, tune_topics), metric, hits)
    chosen = best(points)
    dense, sparse = searcher.component_runs(test_topics, hits, remove_query=remove_query)
    run = fuse_components(dense, sparse, alpha=chosen.alpha, normalization=chosen.normalization, hits=hits)
    return points, chosen, run


def main(argv=None) -> int:
    from ...cli import options_from
    from ...encode.options import EncoderOptions
    from ..faiss.options import DenseSearchOptions, dense_searcher
    from ..lucene.options import BM25Options, bm25_searcher
    from .options import section_parsers, split_sections

    argv = sys.argv[1:] if argv is None else list(argv)
    if "tune" not in argv:
        raise InputError("missing section: tune (--tune-topics ... --test-topics ... --output ...)")
    cut = argv.index("tune")
    tune_parser = ArgumentParser(prog="... tune")
    tune_parser.add_argument("--tune-topics", required=True)
    tune_parser.add_argument("--tune-qrels", help="default: the tuning topics' dataset qrels")
    tune_parser.add_argument("--test-topics", required=True)
    tune_parser.add_argument("--test-qrels", help="default: the test topics' dataset qrels")
    tune_parser.add_argument("--metric", default="ndcg_cut.10")
    tune_parser.add_argument("--plot", type=output_file, help="PNG of the metric against alpha")
    tune_parser.add_argument("--output", type=output_file, required=True, help="test run with the chosen alpha")
    tune_parser.add_argument("--hits", type=positive, default=1000)
    tune_parser.add_argument("--remove-query", action="store_true")
    t = tune_parser.parse_args(argv[cut + 1:])
    if len(parse_measures([t.metric])) != 1:
        raise InputError(f"--metric takes one measure, got {t.metric!r}")
    for topics, qrels, flag in ((t.tune_topics, t.tune_qrels, "--tune-qrels"), (t.test_topics, t.test_qrels,
                                                                                  "--test-qrels")):
        if os.path.isfile(topics) and not qrels:
            raise InputError(f"{topics} is a topics file: give its judgements with {flag}")
    parsers = section_parsers()
    sections = split_sections(argv[:cut] + ["run", "--topics", t.test_topics, "--output", t.output])
    dense_args = parsers["dense"].parse_args(sections["dense"])
    sparse_args = parsers["sparse"].parse_args(sections["sparse"])

    # both outputs are written beside their places (an unwritable one fails here, before any search) and replace
    # them only when both are complete
    with contextlib.ExitStack() as outputs:
        run_tmp = outputs.enter_context(atomic_path(t.output))
        plot_tmp = outputs.enter_context(atomic_path(t.plot)) if t.plot else None
        tune_topics, test_topics = resolve_topics(t.tune_topics), resolve_topics(t.test_topics)
        check_disjoint(tune_topics, test_topics)
        sparse = bm25_searcher(options_from(sparse_args, BM25Options))
        dense = dense_searcher(options_from(dense_args, DenseSearchOptions), options_from(dense_args, EncoderOptions))
        searcher = HybridSearch(dense, sparse)
        tune_qrels = read_qrels(resolve_qrels(t.tune_qrels or t.tune_topics))
        points, chosen, run = tune_and_test(searcher, tune_topics, tune_qrels, test_topics, metric=t.metric,
                                            hits=t.hits, remove_query=t.remove_query)
        test_qrels = judged_topics(read_qrels(resolve_qrels(t.test_qrels or t.test_topics)), test_topics)
        test = evaluate(test_qrels, run, [t.metric, "recall.100"])
        write_run(run, run_tmp, tag="pyserini-dr-hybrid-tuned")
        if plot_tmp:
            plot(points, plot_tmp, t.metric, f"{t.metric} on {t.tune_topics} against alpha")
    print(f"best on {t.tune_topics}: alpha {chosen.alpha:g}, normalization {chosen.normalization}, "
          f"{t.metric} {chosen.score:.4f}")
    print(f"{t.test_topics}: {t.metric} {test[t.metric]:.4f}, recall.100 {test['recall.100']:.4f} -> {t.output}"
          + (f"; plot {os.path.abspath(t.plot)}" if t.plot else ""))
    return 0


if __name__ == "__main__":
    run_main(main)
