"""python -m pyserini_dr.eval.msmarco [-l LEVEL] QRELS RUN: the MS MARCO passage leaderboard's MRR@10.

Semantics of the official ``msmarco_eval.py``: each ranked query that has judgements contributes 1/rank of its
first relevant passage in the top 10 (0 if none); the sum is divided by the number of judged queries; the number
of queries in the run is reported as QueriesRanked. A passage repeated within one query's ranking is an error.
Graded qrels (TREC DL) count a passage as relevant at grade >= LEVEL (``-l 2`` for DL).
"""
from __future__ import annotations


from ..cli import ArgumentParser, run_main
from ..data.qrels import Qrels, read_qrels
from ..data.registry import resolve_qrels
from ..data.runs import Run, read_run
from ..errors import InputError

MAX_MRR_RANK = 10


def mrr_at_10(qrels: Qrels, run: Run, relevance_level: int = 1) -> dict:
    relevant = {qid: {d for d, rel in docs.items() if rel >= relevance_level} for qid, docs in qrels.items()}
    relevant = {qid: docs for qid, docs in relevant.items() if docs}
    total, matched = 0.0, 0
    for qid, hits in run.items():
        docids = [d for d, _ in hits]
        if len(set(docids)) != len(docids):
            raise InputError(f"query {qid} ranks the same passage twice")
        if qid not in relevant:
            continue
        matched += 1
        for rank, docid in enumerate(docids[:MAX_MRR_RANK], 1):
            if docid in relevant[qid]:
                total += 1.0 / rank
                break
    if not matched:
        raise InputError("the qrels and the run have no query in common")
    return {"MRR @10": total / len(relevant), "QueriesRanked": len(run)}


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.msmarco", description="MS MARCO passage MRR@10.")
    parser.add_argument("-l", type=int, default=1, metavar="LEVEL", help="relevance level (2 for TREC DL qrels)")
    parser.add_argument("qrels", help="qrels file or dataset name, e.g. msmarco-passage-dev-subset")
    parser.add_argument("run", help="MS MARCO (qid pid rank) or TREC run")
    args = parser.parse_args(argv)
    scores = mrr_at_10(read_qrels(resolve_qrels(args.qrels)), read_run(args.run), args.l)
    print("#####################")
    print(f"MRR @10: {scores['MRR @10']:.4f}")
    print(f"QueriesRanked: {scores['QueriesRanked']}")
    print("#####################")
    return 0


if __name__ == "__main__":
    run_main(main)
