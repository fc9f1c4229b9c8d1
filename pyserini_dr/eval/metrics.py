"""trec_eval measures over in-memory qrels and runs, computed with trectools.

trectools does the per-query arithmetic; this module adds what makes the numbers equal trec_eval's:
trec_eval's document order (score descending, then docid descending), only judged queries evaluated, the mean
over the qrels' queries with ``-c`` (else over the queries in both), and a relevance level for binary measures.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..data.qrels import Qrels
from ..data.runs import Run
from ..errors import InputError

_MEASURE = re.compile(r"^(ndcg_cut|recall|P|map|recip_rank|ndcg)(?:\.(\d+(?:,\d+)*))?$")
_ALL_RANKS = 1_000_000


LABELS = {"ndcg_cut": "nDCG@{k}", "recall": "R@{k}", "P": "P@{k}", "map": "MAP", "recip_rank": "MRR",
          "ndcg": "nDCG"}


def measure_label(measure: str) -> str:
    """``ndcg_cut.10`` -> ``nDCG@10``, ``recall.100`` -> ``R@100``: how tables name a measure."""
    family, _, k = measure.partition(".")
    return LABELS.get(family, family).format(k=k)


CUTOFF_MEASURES = ("ndcg_cut", "recall", "P", "map_cut", "success")  # trec_eval's measures cut at ranks


def check_cutoffs(names: list[str]) -> None:
    """Refuses a rank cutoff of 0 (``P.0``): it ranks nothing, and trec_eval prints 0 for it without a word."""
    for name in names:
        family, _, cutoffs = name.partition(".")
        if family in CUTOFF_MEASURES and cutoffs and any(k.strip().isdigit() and int(k) < 1
                                                         for k in cutoffs.split(",")):
            raise InputError(f"measure {name!r}: rank cutoffs are 1 or more")


def parse_measures(names: list[str]) -> list[str]:
    """Expand trec_eval measure names (``ndcg_cut.10,100`` -> ``ndcg_cut.10``, ``ndcg_cut.100``)."""
    check_cutoffs(names)
    out = []
    for name in names:
        m = _MEASURE.match(name)
        if not m:
            raise InputError(f"unsupported measure {name!r} (ndcg_cut.K, recall.K, P.K, map, recip_rank, ndcg)")
        family, cutoffs = m.groups()
        if family in ("ndcg_cut", "recall", "P") and not cutoffs:
            raise InputError(f"measure {name!r} needs a cutoff, e.g. {family}.10")
        out += [f"{family}.{k}" for k in cutoffs.split(",")] if cutoffs else [family]
    return out


def trec_eval_name(measure: str) -> str:
    """The label trec_eval prints (``ndcg_cut.10`` -> ``ndcg_cut_10``)."""
    return measure.replace(".", "_")


def _frames(qrels: Qrels, run: Run):
    from trectools import TrecQrel, TrecRun

    q = TrecQrel()
    q.qrels_data = pd.DataFrame([(qid, 0, d, r) for qid, docs in qrels.items() for d, r in docs.items()],
                                columns=["query", "q0", "docid", "rel"])
    rows = [(qid, "Q0", d, 0, s, "run") for qid, hits in run.items() if qid in qrels for d, s in hits]
    df = pd.DataFrame(rows, columns=["query", "q0", "docid", "rank", "score", "system"])
    # trec_eval ignores the rank column: it orders by score descending, ties by docid descending
    df = df.sort_values(["query", "score", "docid"], ascending=[True, False, False], kind="mergesort")
    df["rank"] = df.groupby("query").cumcount() + 1
    r = TrecRun()
    r.run_data = df.reset_index(drop=True)
    return r, q


def _binary(qrels: Qrels, level: int) -> Qrels:
    return {qid: {d: int(rel >= level) for d, rel in docs.items()} for qid, docs in qrels.items()}


def evaluate(qrels: Qrels, run: Run, measures: list[str], *, complete: bool = True, relevance_level: int = 1,
             per_query: bool = False) -> dict:
    """trec_eval's numbers for ``measures`` (trec_eval names); ``complete`` is trec_eval's ``-c``.

    Returns {measure: mean}, or with ``per_query`` {measure: {qid: value}} over the averaged queries.
    nDCG uses the graded judgements; recall, P, map and recip_rank count rel >= ``relevance_level`` (``-l``).
    """
    from trectools import TrecEval

    measures = parse_measures(measures)
    common = [qid for qid in qrels if qid in run]
    if not common:
        raise InputError("the qrels and the run have no query in common")
    queries = list(qrels) if complete else common
    graded = TrecEval(*_frames(qrels, run)) if any(m.startswith("ndcg") for m in measures) else None
    binary = TrecEval(*_frames(_binary(qrels, relevance_level), run)) \
        if any(not m.startswith("ndcg") for m in measures) else None
    depth = max(len(h) for h in run.values()) or 1

    results = {}
    for measure in measures:
        family, _, k = measure.partition(".")
        k = int(k) if k else _ALL_RANKS
        if family in ("ndcg_cut", "ndcg"):
            frame = graded.get_ndcg(depth=k if family == "ndcg_cut" else _ALL_RANKS, per_query=True)
        elif family == "recall":
            frame = binary.get_recall(depth=k, per_query=True)
        elif family == "P":
            frame = binary.get_precision(depth=k, per_query=True)
        elif family == "map":
            frame = binary.get_map(depth=max(depth, 1), per_query=True)
        else:
            frame = binary.get_reciprocal_rank(depth=max(depth, 1), per_query=True)
        series = frame.iloc[:, 0] if isinstance(frame, pd.DataFrame) else frame
        values = {str(q): float(v) for q, v in series.items() if not pd.isna(v)}
        scores = {qid: values.get(qid, 0.0) for qid in queries}
        results[measure] = scores if per_query else float(np.mean(list(scores.values())))
    return results
