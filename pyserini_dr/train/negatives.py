"""Hard negatives from a ranking: the top of a BM25 run (Lucene, on the CPU) or of a dense index's run.

The GPU machine cannot run Lucene, so BM25 negatives travel as a training file made here; dense negatives for
ANCE/ADORE are re-mined on the device by the recipes with the same ``negatives_from_ranking``.
"""
from __future__ import annotations

import random

from ..data.qrels import Qrels


def negatives_from_ranking(ranking: list[str], positives: set[str], *, depth: int = 30, skip: int = 0,
                           sample: int | None = None, exclude: set[str] = frozenset(),
                           rng: random.Random | None = None) -> list[str]:
    """Documents ranked ``skip+1 .. depth`` that are neither positive nor excluded, in rank order; ``sample`` keeps
    that many of them, drawn with ``rng`` (rank order kept)."""
    pool = [d for d in ranking[skip:depth] if d not in positives and d not in exclude]
    if sample is not None and sample < len(pool):
        keep = sorted((rng or random.Random(0)).sample(range(len(pool)), sample))
        pool = [pool[i] for i in keep]
    return pool


def mine_run(run: dict[str, list[tuple[str, float]]], qrels: Qrels, *, depth: int = 30, skip: int = 0,
             sample: int | None = None, seed: int = 0, exclude_query_id: bool = False) -> dict[str, list[str]]:
    """qid -> negatives for every query of the run; judged documents with relevance > 0 are never negatives.
    ``exclude_query_id`` drops a document whose id is the query's (BEIR sets where queries are documents)."""
    mined = {}
    for qid, hits in run.items():
        positives = {d for d, rel in qrels.get(qid, {}).items() if rel > 0}
        rng = random.Random(f"{seed}:{qid}")  # per query: the same negatives whatever the run's query order
        mined[qid] = negatives_from_ranking([d for d, _ in hits], positives, depth=depth, skip=skip, sample=sample,
                                            exclude={qid} if exclude_query_id else frozenset(), rng=rng)
    return mined


def main(argv=None) -> int:
    """python -m pyserini_dr.train.negatives --topics NAME|FILE --qrels NAME|FILE (--run RUN | --index LUCENE_DIR)
    --output train.jsonl: a training file whose negatives are the top of a run (a BM25 run, or a dense one)."""
    import sys

    from ..cli import ArgumentParser, fraction, non_negative, positive
    from ..data.qrels import read_qrels
    from ..data.registry import resolve_qrels, resolve_topics
    from ..data.runs import read_run
    from ..errors import InputError
    from .examples import build_examples, split_dev, write_examples

    p = ArgumentParser(prog="python -m pyserini_dr.train.negatives", description=main.__doc__.split(":")[0])
    p.add_argument("--topics", required=True)
    p.add_argument("--qrels", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="a run file (TREC or MS MARCO) to mine")
    src.add_argument("--index", help="a Lucene index directory or prebuilt name: BM25 (k1 0.9, b 0.4) is run here")
    p.add_argument("--depth", type=positive, default=30, help="negatives come from the top DEPTH (default 30)")
    p.add_argument("--skip", type=non_negative, default=0, help="ignore the top SKIP hits (likely unjudged positives)")
    p.add_argument("--sample", type=positive, default=None, help="keep this many of them per query")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exclude-query-id", action="store_true", help="never the document whose id is the query's")
    p.add_argument("--output", required=True, help="training file (Tevatron JSONL)")
    p.add_argument("--dev-fraction", type=fraction, default=0.0, help="carve this share of queries out as a dev split")
    p.add_argument("--dev-output", help="where the dev split goes (with --dev-fraction)")
    args = p.parse_args(argv)
    if args.dev_fraction and not args.dev_output:
        raise InputError("--dev-fraction needs --dev-output")
    if args.depth < 1 or args.skip < 0 or (args.sample is not None and args.sample < 1):
        raise InputError("--depth and --sample must be >= 1, --skip >= 0")

    topics = resolve_topics(args.topics)
    qrels = read_qrels(resolve_qrels(args.qrels))
    if args.run:
        run = read_run(args.run)
    else:
        from ..prebuilt import resolve_index
        from ..search.lucene import BM25Searcher

        judged = {q: t for q, t in topics.items() if q in qrels}
        run = BM25Searcher(resolve_index(args.index, "lucene")).batch_search(judged, hits=args.depth + args.skip + 1)
    mined = mine_run(run, qrels, depth=args.depth, skip=args.skip, sample=args.sample, seed=args.seed,
                     exclude_query_id=args.exclude_query_id)
    examples = build_examples(topics, qrels, mined)
    train, dev = split_dev(examples, args.dev_fraction)
    write_examples(train, args.output)
    if args.dev_output:
        write_examples(dev, args.dev_output)
    negs = sum(len(e.negatives) for e in train)
    print(f"wrote {len(train):,} training queries ({negs:,} negatives, {negs / max(len(train), 1):.1f} per query) "
          f"-> {args.output}" + (f"; {len(dev):,} dev queries -> {args.dev_output}" if args.dev_output else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from ..cli import run_main

    run_main(main)
