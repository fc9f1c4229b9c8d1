"""Evaluation: trec_eval measures (through trectools), MS MARCO MRR@10, leaderboards and reproduction."""
from .metrics import evaluate, parse_measures

__all__ = ["evaluate", "parse_measures"]
