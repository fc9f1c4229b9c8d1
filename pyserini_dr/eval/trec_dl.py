"""python -m pyserini_dr.eval.trec_dl --topics dl19-passage|dl20 RUN: TREC Deep Learning passage evaluation.

The measures Pyserini and Anserini report for TREC DL with the graded (0-3) NIST qrels, as
``trec_eval -c -m ndcg_cut.10``, ``trec_eval -c -l 2 -m map`` and ``trec_eval -c -l 2 -m recall.1000``: nDCG@10
uses the grades as gains; MAP and R@1k count a passage as relevant at grade >= 2 (grade 1 is "related", not
relevant, in the track's guidelines). Averages are over the judged queries (43 for DL19, 54 for DL20).
"""
from __future__ import annotations


from ..cli import ArgumentParser, run_main
from ..data.qrels import Qrels, read_qrels
from ..data.registry import resolve_qrels
from ..data.runs import Run, read_run
from .metrics import evaluate

RELEVANCE_LEVEL = 2
MEASURES = {"ndcg_cut.10": "nDCG@10", "map": "MAP", "recall.1000": "R@1k"}


def trec_dl_scores(qrels: Qrels, run: Run, relevance_level: int = RELEVANCE_LEVEL) -> dict[str, float]:
    """{'ndcg_cut.10', 'map', 'recall.1000': mean over the judged queries} (trec_eval -c, -l for map/recall)."""
    return evaluate(qrels, run, list(MEASURES), relevance_level=relevance_level)


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.trec_dl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", required=True,
                        help="dl19-passage, dl20 (dl20-passage) or a graded qrels file (TREC or BEIR)")
    parser.add_argument("-l", type=int, default=RELEVANCE_LEVEL, metavar="LEVEL",
                        help=f"relevance level for MAP and recall (default {RELEVANCE_LEVEL}, as the track)")
    parser.add_argument("run", help="TREC or MS MARCO run")
    args = parser.parse_args(argv)

    qrels = read_qrels(resolve_qrels(args.topics))
    run = read_run(args.run)
    scores = trec_dl_scores(qrels, run, args.l)
    ranked = sum(1 for q in qrels if q in run)
    print(f"{args.topics}: {len(qrels)} judged queries, {ranked} of them in the run "
          f"(trec_eval -c; -l {args.l} for MAP and R@1k)")
    for measure, label in MEASURES.items():
        print(f"{label:<8}{scores[measure]:.4f}")
    return 0


if __name__ == "__main__":
    run_main(main)
