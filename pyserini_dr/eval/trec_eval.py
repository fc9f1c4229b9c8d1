"""python -m pyserini_dr.eval.trec_eval [-c] [-q] [-l N] -m MEASURE [-m ...] QRELS RUN

trec_eval's command line and output, every requested measure printed (pyserini's wrapper returns only the last).
QRELS is a file (TREC or BEIR) or a dataset name; RUN is a TREC or MS MARCO run.
"""
from __future__ import annotations


from ..cli import ArgumentParser, run_main
from ..data.qrels import read_qrels
from ..data.registry import resolve_qrels
from ..data.runs import read_run
from .metrics import evaluate, parse_measures, trec_eval_name


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.trec_eval", description=__doc__.split("\n\n")[1])
    parser.add_argument("-c", action="store_true", help="average over all queries in the qrels (missing ones score 0)")
    parser.add_argument("-q", action="store_true", help="also print each query's values")
    parser.add_argument("-l", type=int, default=1, metavar="LEVEL", help="relevance level for binary measures")
    parser.add_argument("-m", action="append", required=True, metavar="MEASURE", help="e.g. ndcg_cut.10, recall.100")
    parser.add_argument("qrels")
    parser.add_argument("run")
    args = parser.parse_args(argv)

    measures = parse_measures(args.m)
    qrels = read_qrels(resolve_qrels(args.qrels))
    run = read_run(args.run)
    per_query = evaluate(qrels, run, measures, complete=args.c, relevance_level=args.l, per_query=True)
    for measure in measures:
        values = per_query[measure]
        if args.q:
            for qid, value in values.items():
                print(f"{trec_eval_name(measure):<22}\t{qid}\t{value:.4f}")
        print(f"{trec_eval_name(measure):<22}\tall\t{sum(values.values()) / len(values):.4f}")
    return 0


if __name__ == "__main__":
    run_main(main)
