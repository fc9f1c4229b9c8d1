"""The pairs a teacher command scores (``python -m pyserini_dr.rerank``, ``python -m
pyserini_dr.train.hybrid_teacher``): a typed record and its flags. ``pairs.pairs_to_score`` reads them,
``pairs.write_scores`` writes the scores."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..cli import positive


@dataclass
class PairOptions:
    """--run (with --topics, its top --hits) or --train-data (every pair of a training file)."""
    run: str | None = None
    train_data: str | None = None
    topics: str | None = None
    hits: int = 100

    @property
    def source(self) -> str | None:
        """The file the pairs come from."""
        return self.run or self.train_data


def add_pair_args(parser: argparse.ArgumentParser) -> None:
    """--run (with --topics, its top --hits) or --train-data (every pair of a training file)."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="score the top --hits of each query of this run (TREC or MS MARCO)")
    what.add_argument("--train-data", help="score every (query, positive | negative) pair of a training file: "
                      "the teacher scores of the distillation recipes")
    parser.add_argument("--topics", help="topics of --run (a file or a dataset topic name)")
    parser.add_argument("--hits", type=positive, default=100, help="pairs per query taken from --run (default 100)")
