"""python -m pyserini_dr.train.pseudo_queries --dataset NAME | --corpus FILE --output queries.tsv [--min-words 3]

Unlabelled in-domain queries from the corpus itself: each document's title becomes a query (``title-<docid>``),
as GPL (Wang et al., NAACL 2022) labels generated queries on the target corpus with a teacher. Titles stand in for a
query generator, which cannot be downloaded here. Label them with a teacher (``hybrid_teacher`` or ``rerank``) and
``pseudo_labels``; no relevance judgement is used.
"""
from __future__ import annotations

import argparse
import sys

from ..cli import run_main
from ..data.registry import resolve_corpus
from ..data.topics import write_topics_tsv
from ..errors import InputError

QUERY_PREFIX = "title-"


def title_queries(passages: dict[str, tuple[str, str]], min_words: int = 3) -> dict[str, str]:
    """qid -> title (whitespace collapsed) for every document whose title has at least ``min_words`` words."""
    queries = {}
    for docid, (title, _) in passages.items():
        words = (title or "").split()
        if len(words) >= min_words:
            queries[f"{QUERY_PREFIX}{docid}"] = " ".join(words)
    return queries


def main(argv=None) -> int:
    from ..data.corpus import read_passages

    p = argparse.ArgumentParser(prog="python -m pyserini_dr.train.pseudo_queries", description=__doc__.split("\n\n")[1])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus")
    source.add_argument("--dataset")
    p.add_argument("--min-words", type=int, default=3, help="shorter titles are skipped")
    p.add_argument("--output", required=True, help="topics file (qid<TAB>text)")
    args = p.parse_args(argv)
    if args.min_words < 1:
        raise InputError("--min-words must be >= 1")
    queries = title_queries(read_passages(resolve_corpus(args.dataset or args.corpus)), args.min_words)
    if not queries:
        raise InputError(f"no document of {args.dataset or args.corpus} has a title of {args.min_words}+ words")
    write_topics_tsv(queries, args.output)
    print(f"wrote {len(queries):,} title queries -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
