"""python -m pyserini_dr.train.pseudo_queries --dataset NAME | --corpus FILE --output queries.tsv [--min-words 3]
    [--last-sentences N]

Unlabelled in-domain queries from the corpus itself: each document's title becomes a query (``title-<docid>``),
and with ``--last-sentences N`` so do the last N sentences of its text (``sent-<docid>-<k>``: an abstract's closing
sentences state its findings, as claims do), as GPL (Wang et al., NAACL 2022) labels generated queries on the target
corpus with a teacher. They stand in for a query generator, which cannot be downloaded here. Label them with a
teacher (``hybrid_teacher`` or ``rerank``) and ``pseudo_labels``; no relevance judgement is used.
"""
from __future__ import annotations

import re
import sys

from ..cli import ArgumentParser, non_negative, positive, run_main
from ..data.registry import resolve_corpus
from ..data.topics import write_topics_tsv
from ..errors import InputError

QUERY_PREFIX = "title-"
SENTENCE_PREFIX = "sent-"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")  # a stop, space, then what starts a sentence


def title_queries(passages: dict[str, tuple[str, str]], min_words: int = 3) -> dict[str, str]:
    """qid -> title (whitespace collapsed) for every document whose title has at least ``min_words`` words."""
    queries = {}
    for docid, (title, _) in passages.items():
        words = (title or "").split()
        if len(words) >= min_words:
            queries[f"{QUERY_PREFIX}{docid}"] = " ".join(words)
    return queries


def sentence_queries(passages: dict[str, tuple[str, str]], last: int, min_words: int = 3) -> dict[str, str]:
    """qid -> sentence for the last ``last`` sentences of each text with at least ``min_words`` words; k counts
    from the end (``sent-<docid>-1`` is the last sentence)."""
    queries = {}
    for docid, (_, text) in passages.items():
        sentences = [" ".join(s.split()) for s in SENTENCE_END.split(text or "")]
        sentences = [s for s in sentences if len(s.split()) >= min_words]
        for k, sentence in enumerate(reversed(sentences[-last:] if last else []), start=1):
            queries[f"{SENTENCE_PREFIX}{docid}-{k}"] = sentence
    return queries


def main(argv=None) -> int:
    from ..data.corpus import read_passages

    p = ArgumentParser(prog="python -m pyserini_dr.train.pseudo_queries", description=__doc__.split("\n\n")[1])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus")
    source.add_argument("--dataset")
    p.add_argument("--min-words", type=positive, default=3, help="shorter titles and sentences are skipped")
    p.add_argument("--last-sentences", type=non_negative, default=0, help="also the last N sentences of each text")
    p.add_argument("--output", required=True, help="topics file (qid<TAB>text)")
    args = p.parse_args(argv)
    passages = read_passages(resolve_corpus(args.dataset or args.corpus))
    titles = title_queries(passages, args.min_words)
    sentences = sentence_queries(passages, args.last_sentences, args.min_words)
    if not titles and not sentences:
        raise InputError(f"no document of {args.dataset or args.corpus} has a title of {args.min_words}+ words")
    write_topics_tsv({**titles, **sentences}, args.output)
    print(f"wrote {len(titles):,} title and {len(sentences):,} sentence queries -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
