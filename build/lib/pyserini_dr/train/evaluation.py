"""The dev evaluation hook: the model's exact dense ranking of dev queries, scored by trec_eval's measures."""
from __future__ import annotations

from ..data.qrels import Qrels
from .dense_ranking import DenseRanker

MEASURES = ["ndcg_cut.10", "recall.100"]


class DevEvaluation:
    def __init__(self, ranker: DenseRanker, topics: dict[str, str], qrels: Qrels, depth: int = 100):
        self.ranker = ranker
        self.topics = topics
        self.qrels = qrels
        self.depth = depth

    def evaluate(self, model, run_path: str | None = None, docs=None) -> dict:
        """The dev scores; where trectools is missing (the GPU machine) the run is only written to ``run_path``,
        to be scored elsewhere, and {} is returned. ``docs``: passage vectors to rank instead of encoding the corpus
        with the model (a frozen passage tower's, already at hand)."""
        run = self.ranker.rankings(model, self.topics, self.depth, docs)
        if run_path:
            from ..data.runs import write_run

            write_run(run, run_path, tag="dev")
        try:
            import trectools  # noqa: F401  (what evaluate computes with)
        except ImportError:
            return {}
        from ..eval.metrics import evaluate

        return evaluate(self.qrels, run, MEASURES)
