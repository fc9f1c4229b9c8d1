"""Pseudo-labelled training groups from a teacher's ranking (RocketQA/PAIR's first stage: unlabelled queries are
labelled by a cross-encoder): the teacher's top ``--positives`` are positives, its ranks after ``--negatives-after``
(to ``--depth``) negatives, the uncertain middle left out.

    python -m pyserini_dr.train.pseudo_labels --topics NAME|FILE --teacher-scores RUN --output pseudo.jsonl
"""
from __future__ import annotations

import sys

from ..cli import ArgumentParser, non_negative, positive, run_main
from ..data.registry import resolve_topics
from ..errors import InputError
from .examples import TrainExample, write_examples
from .teacher import read_teacher_scores


def pseudo_label(topics: dict[str, str], teacher: dict[str, dict[str, float]], *, positives: int = 1,
                 negatives_after: int = 10, depth: int = 100) -> list[TrainExample]:
    from ..data.runs import sort_hits

    examples = []
    for qid, text in topics.items():
        ranked = [d for d, _ in sort_hits(teacher.get(qid, {}).items())][:depth]
        if len(ranked) > negatives_after:
            examples.append(TrainExample(qid, text, ranked[:positives], ranked[negatives_after:]))
    return examples


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m pyserini_dr.train.pseudo_labels", description=__doc__.split("\n\n")[0])
    p.add_argument("--topics", required=True, help="the (unlabelled) queries")
    p.add_argument("--teacher-scores", required=True, help="the teacher's run over them (python -m pyserini_dr.rerank)")
    p.add_argument("--positives", type=positive, default=1)
    p.add_argument("--negatives-after", type=non_negative, default=10)
    p.add_argument("--depth", type=positive, default=100)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    if not 1 <= args.positives <= args.negatives_after < args.depth:
        raise InputError("need 1 <= --positives <= --negatives-after < --depth")
    examples = pseudo_label(resolve_topics(args.topics), read_teacher_scores(args.teacher_scores),
                            positives=args.positives, negatives_after=args.negatives_after, depth=args.depth)
    if not examples:
        raise InputError(f"no query of {args.topics} has more than {args.negatives_after} teacher-scored documents")
    write_examples(examples, args.output)
    print(f"wrote {len(examples):,} pseudo-labelled queries -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
