"""The SciFact training table: nDCG@10 and R@100 of run files on the official test and on the "unseen" queries.

    python scripts/train_table.py NAME=RUN [NAME=RUN ...]

"Unseen": the test queries none of whose relevant documents is a positive of a SciFact train query (104 of 300),
where memorising train positives cannot help. Runs are scored with trec_eval's measures (pyserini_dr.eval). The last
column is the share of train positives among the unseen queries' top 10 (in the corpus: 565 of 5,183, 10.9%): a
model that memorises them pushes them up for every claim.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    from pyserini_dr.data.qrels import read_qrels
    from pyserini_dr.data.registry import resolve_qrels
    from pyserini_dr.data.runs import read_run
    from pyserini_dr.eval.metrics import evaluate
    from pyserini_dr.train.examples import unseen_queries

    test = read_qrels(resolve_qrels("beir-v1.0.0-scifact-test"))
    train = read_qrels(resolve_qrels("beir-v1.0.0-scifact-train"))
    unseen_ids = unseen_queries(test, train)
    unseen = {q: d for q, d in test.items() if q in unseen_ids}
    train_positives = {d for docs in train.values() for d, rel in docs.items() if rel > 0}
    measures = ["ndcg_cut.10", "recall.100"]
    print(f"| model | test nDCG@10 | test R@100 | unseen nDCG@10 | unseen R@100 | unseen top 10: train positives |"
          f"  ({len(test)} / {len(unseen)} queries)")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for item in sys.argv[1:]:
        name, _, path = item.partition("=")
        run = read_run(path)
        a = evaluate(test, run, measures)
        b = evaluate(unseen, {q: h for q, h in run.items() if q in unseen}, measures)
        tops = [[d for d, _ in run[q][:10]] for q in unseen if q in run]  # read_run sorts each query's hits
        share = sum(d in train_positives for top in tops for d in top) / max(sum(map(len, tops)), 1)
        print(f"| {name} | {a['ndcg_cut.10']:.4f} | {a['recall.100']:.4f} | {b['ndcg_cut.10']:.4f} | "
              f"{b['recall.100']:.4f} | {share:.1%} |", flush=True)


if __name__ == "__main__":
    main()
