"""python -m pyserini_dr.eval.trec_eval [-c] [-q] [-l N] [-M N] -m MEASURE [-m ...] QRELS RUN

trec_eval's command line and output, every requested measure printed (pyserini's wrapper returns only the last).
QRELS is a file (TREC or BEIR) or a dataset name; RUN is a TREC or MS MARCO run. Our evaluator (trectools) computes
ndcg_cut, recall, P, map, recip_rank and ndcg; any other measure trec_eval knows (judged.10, map_cut.100,
success.1, all_trec, ...) and ``-M`` go to the trec_eval binary inside Anserini's fatjar, on the same files.
"""
from __future__ import annotations

import os
import sys
import tempfile

from ..cli import ArgumentParser, positive, run_main
from ..data.qrels import read_qrels, write_trec_qrels
from ..data.registry import resolve_qrels
from ..data.runs import read_run, write_run
from ..errors import InputError
from .metrics import check_cutoffs, evaluate, parse_measures, trec_eval_name


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.trec_eval", description=__doc__.split("\n\n")[1])
    parser.add_argument("-c", action="store_true", help="average over all queries in the qrels (missing ones score 0)")
    parser.add_argument("-q", action="store_true", help="also print each query's values")
    parser.add_argument("-l", type=int, default=1, metavar="LEVEL", help="relevance level for binary measures")
    parser.add_argument("-M", type=positive, default=None, metavar="N", help="only each query's first N documents")
    parser.add_argument("-m", action="append", required=True, metavar="MEASURE", help="e.g. ndcg_cut.10, recall.100")
    parser.add_argument("qrels")
    parser.add_argument("run")
    args = parser.parse_args(argv)

    qrels = read_qrels(resolve_qrels(args.qrels))
    run = read_run(args.run)  # checked here (a document twice, nan) whoever computes the measures
    check_cutoffs(args.m)  # the binary below would print 0 for them
    try:
        measures = None if args.M else parse_measures(args.m)
    except InputError:
        measures = None
    if measures is None:
        flags = (["-c"] if args.c else []) + (["-q"] if args.q else []) + ["-l", str(args.l)]
        flags += (["-M", str(args.M)] if args.M else []) + [word for m in args.m for word in ("-m", m)]
        sys.stdout.write(anserini_trec_eval(flags, qrels, run))
        return 0
    per_query = evaluate(qrels, run, measures, complete=args.c, relevance_level=args.l, per_query=True)
    for measure in measures:
        values = per_query[measure]
        if args.q:
            for qid, value in values.items():
                print(f"{trec_eval_name(measure):<22}\t{qid}\t{value:.4f}")
        print(f"{trec_eval_name(measure):<22}\tall\t{sum(values.values()) / len(values):.4f}")
    return 0


def anserini_trec_eval(flags: list[str], qrels, run) -> str:
    """trec_eval itself (inside Anserini's fatjar) with ``flags`` on these qrels and run, written as TREC files
    (every digit of each score: trec_eval orders by score, then docid, whatever the file's order)."""
    from .. import _pyserini

    with tempfile.TemporaryDirectory(prefix="trec_eval.") as tmp:
        qrels_file, run_file = os.path.join(tmp, "qrels.txt"), os.path.join(tmp, "run.txt")
        write_trec_qrels(qrels, qrels_file)
        write_run(run, run_file, full_precision=True)
        return _pyserini.anserini_trec_eval([*flags, qrels_file, run_file])


if __name__ == "__main__":
    run_main(main)
