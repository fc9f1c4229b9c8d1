"""python -m pyserini_dr.eval.trec_eval [-c] [-q] [-l N] [-M N] [-m MEASURE ...] [-remove-unjudged] QRELS RUN

trec_eval's command line and output, every requested measure printed (pyserini's wrapper returns only the last).
QRELS is a file (TREC or BEIR) or a dataset name; RUN is a TREC or MS MARCO run. Our evaluator (trectools) computes
ndcg_cut, recall, P, map, recip_rank and ndcg; any other measure trec_eval knows (map_cut.100, success.1, all_trec,
no -m at all, ...) and trec_eval's other flags (-M, -n, -J, -N, -D, -Z) go to the trec_eval binary inside Anserini's
fatjar, on the same files. Pyserini's own additions work as in ``pyserini.eval.trec_eval``: ``-remove-unjudged``
drops the hits the qrels do not judge, ``-m judged.K`` is the share of judged pairs in the top K.
"""
from __future__ import annotations

import os
import sys
import tempfile

from ..cli import ArgumentParser, positive, pyserini_flags, run_main
from ..data.qrels import read_qrels, write_trec_qrels
from ..data.registry import resolve_qrels
from ..data.runs import read_run, write_run
from ..errors import InputError
from .judged import judged_at, judged_only, split_judged
from .metrics import check_cutoffs, evaluate, parse_measures, trec_eval_name


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.trec_eval", description=__doc__.split("\n\n")[1])
    parser.add_argument("-c", action="store_true", help="average over all queries in the qrels (missing ones score 0)")
    parser.add_argument("-q", action="store_true", help="also print each query's values")
    parser.add_argument("-l", type=int, default=1, metavar="LEVEL", help="relevance level for binary measures")
    parser.add_argument("-M", type=positive, default=None, metavar="N", help="only each query's first N documents")
    parser.add_argument("-m", action="append", default=[], metavar="MEASURE",
                        help="e.g. ndcg_cut.10, recall.100, judged.10 (none: trec_eval's official set)")
    binary = parser.add_argument_group("trec_eval's other flags (the trec_eval binary computes every measure then)")
    binary.add_argument("-n", action="store_true", help="no summary (the 'all' lines)")
    binary.add_argument("-J", action="store_true", help="judged documents only (trec_eval's; see -remove-unjudged)")
    binary.add_argument("-N", type=positive, metavar="N", help="documents in the collection")
    binary.add_argument("-D", metavar="LEVEL", help="trec_eval's debug level")
    binary.add_argument("-Z", metavar="ZMEAN_FILE", help="print Z scores against this file's means")
    parser.add_argument("-remove-unjudged", action="store_true",
                        help="drop each query's hits the qrels do not judge, first (Pyserini's flag)")
    parser.add_argument("qrels")
    parser.add_argument("run")
    pyserini_flags(parser, refused={"-v": "prints trec_eval's version only"},
                   only={"-R": (("qrels",), "qrels files only"), "-T": (("trec_results",), "TREC runs only")})
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    qrels = read_qrels(resolve_qrels(args.qrels))
    run = read_run(args.run)  # checked here (a document twice, nan) whoever computes the measures
    check_cutoffs(args.m)  # the binary below would print 0 for them
    if args.remove_unjudged:
        run = judged_only(run, qrels)
    names, judged = split_judged(args.m)
    binary_flags = (["-n"] if args.n else []) + (["-J"] if args.J else []) + (["-N", str(args.N)] if args.N else [])
    binary_flags += (["-D", args.D] if args.D else []) + (["-Z", args.Z] if args.Z else [])
    try:
        measures = None if args.M or binary_flags or not args.m else parse_measures(names)
    except InputError:
        measures = None
    if measures is None and (names or not judged):
        flags = (["-c"] if args.c else []) + (["-q"] if args.q else []) + ["-l", str(args.l)]
        flags += (["-M", str(args.M)] if args.M else []) + binary_flags + [word for m in names for word in ("-m", m)]
        sys.stdout.write(anserini_trec_eval(flags, qrels, run))
    elif measures:
        per_query = evaluate(qrels, run, measures, complete=args.c, relevance_level=args.l, per_query=True)
        for measure in measures:
            values = per_query[measure]
            if args.q:
                for qid, value in values.items():
                    print(f"{trec_eval_name(measure):<22}\t{qid}\t{value:.4f}")
            print(f"{trec_eval_name(measure):<22}\tall\t{sum(values.values()) / len(values):.4f}")
    for k in judged:
        print(f"{f'judged_{k}':<22}\tall\t{judged_at(run, qrels, k):.4f}")
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
