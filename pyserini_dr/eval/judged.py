"""Pyserini's additions to trec_eval (``pyserini.eval.trec_eval``): ``-remove-unjudged`` and ``judged.k``."""
from __future__ import annotations

from ..data.qrels import Qrels
from ..data.runs import Run
from ..errors import InputError


def judged_only(run: Run, qrels: Qrels) -> Run:
    """Each query's hits that the qrels judge (any label, 0 included): Pyserini's ``-remove-unjudged``."""
    return {qid: [h for h in hits if h[0] in qrels.get(qid, {})] for qid, hits in run.items()}


def judged_at(run: Run, qrels: Qrels, k: int) -> float:
    """Pyserini's ``judged.k``: of all the (query, document) pairs in the run's top k of every query, the share the
    qrels judge (pooled over queries, not a mean of each query's share)."""
    top = [(qid, docid) for qid, hits in run.items() for docid, _ in hits[:k]]
    return sum(1 for qid, docid in top if docid in qrels.get(qid, {})) / len(top) if top else 0.0


def split_judged(measures: list[str]) -> tuple[list[str], list[int]]:
    """(the other measures, judged.k cutoffs) of ``-m`` values (``judged.10,100`` -> 10, 100)."""
    rest, cutoffs = [], []
    for name in measures:
        if name.startswith("judged."):
            ks = name[len("judged."):].split(",")
            if not all(k.isdigit() and int(k) > 0 for k in ks):
                raise InputError(f"judged.K takes cutoffs, e.g. judged.10,100; got {name!r}")
            cutoffs += [int(k) for k in ks]
        else:
            rest.append(name)
    return rest, cutoffs
