"""The pairs a teacher scores and the run it writes: the top hits of a run, or every (query, positive | negative)
pair of a training file (Tevatron's JSONL, as ``pyserini_dr.train.examples`` writes it); the scores go out as a TREC
run, the teacher-scores file of the distillation recipes."""
from __future__ import annotations

import sys
import time

from ..data.groups import read_examples
from ..data.runs import Run, read_run
from ..errors import InputError
from .options import PairOptions


def pairs_to_score(options: PairOptions) -> tuple[dict[str, str], Run]:
    """(topics, qid -> [(docid, score)]) as ``options`` ask: the run's top ``hits``, or all training pairs."""
    from ..data.registry import resolve_topics

    if options.hits < 1:
        raise InputError("--hits must be >= 1")
    if options.train_data:
        return training_pairs(options.train_data)
    if not options.topics:
        raise InputError("--run needs --topics")
    topics, run = resolve_topics(options.topics), read_run(options.run)
    missing = [q for q in run if q not in topics]
    if missing:  # its pairs would be dropped without a word: the teacher's file would lack those queries
        raise InputError(f"{len(missing):,} queries of {options.run} are not in {options.topics} (first: "
                         f"{missing[0]}): give the run's own topics")
    return topics, {q: hits[:options.hits] for q, hits in run.items()}


def training_pairs(path) -> tuple[dict[str, str], Run]:
    """Every (query, positive | negative) pair of a training file as topics and a run with zero scores."""
    topics, run = {}, {}
    for example in read_examples(path):
        topics[example.query_id] = example.query
        run[example.query_id] = [(d, 0.0) for d in dict.fromkeys(example.positives + example.negatives)]
    return topics, run


def write_scores(scored: Run, options: PairOptions, output: str, started: float, *, tag: str, verb: str) -> None:
    """The teacher commands' output: the scored pairs as a TREC run (atomically) and one line on stderr."""
    from ..data.runs import write_run

    if not scored:
        raise InputError(f"no query of {options.source} is in {options.topics or 'its own topics'}")
    lines = write_run(scored, output, tag=tag)
    print(f"{verb} {len(scored):,} queries ({lines:,} pairs) in {time.time() - started:.1f}s -> {output}",
          file=sys.stderr)
