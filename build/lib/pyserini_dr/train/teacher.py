"""Teacher scores: a TREC run of a teacher's scores (``python -m pyserini_dr.rerank`` for a cross-encoder,
``python -m pyserini_dr.train.hybrid_teacher`` for the dense + BM25 ensemble), as qid -> {docid: score}.

Every distillation recipe reads them; a (query, passage) pair the file lacks has no teacher score and its terms are
left out of the loss. Both teacher commands take the pairs to score the same way (``add_pair_args``).
"""
from __future__ import annotations

from ..data.runs import Run, read_run
from ..errors import InputError

TeacherScores = dict[str, dict[str, float]]


def read_teacher_scores(path) -> TeacherScores:
    return {qid: dict(hits) for qid, hits in read_run(path).items()}


def add_pair_args(parser) -> None:
    """--run (with --topics, its top --hits) or --train-data (every pair of a training file)."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", help="score the top --hits of each query of this run (TREC or MS MARCO)")
    what.add_argument("--train-data", help="score every (query, positive | negative) pair of a training file: "
                      "the teacher scores of the distillation recipes")
    parser.add_argument("--topics", help="topics of --run (a file or a dataset topic name)")
    parser.add_argument("--hits", type=int, default=100, help="pairs per query taken from --run (default 100)")


def pairs_to_score(args) -> tuple[dict[str, str], Run]:
    """(topics, qid -> [(docid, score)]) as ``add_pair_args`` asked: the run's top --hits, or all training pairs."""
    from ..data.registry import resolve_topics
    from .examples import example_pairs, read_examples

    if args.hits < 1:
        raise InputError("--hits must be >= 1")
    if args.train_data:
        return example_pairs(read_examples(args.train_data))
    if not args.topics:
        raise InputError("--run needs --topics")
    return resolve_topics(args.topics), {q: hits[:args.hits] for q, hits in read_run(args.run).items()}


def write_scores(scored: Run, args, started: float, *, tag: str, verb: str) -> None:
    """The teacher commands' output: the scored pairs as a TREC run (atomically) and one line on stderr."""
    import sys
    import time

    from ..data.runs import write_run

    if not scored:
        raise InputError(f"no query of {args.run or args.train_data} is in {args.topics or 'its own topics'}")
    lines = write_run(scored, args.output, tag=tag)
    print(f"{verb} {len(scored):,} queries ({lines:,} pairs) in {time.time() - started:.1f}s -> {args.output}",
          file=sys.stderr)
