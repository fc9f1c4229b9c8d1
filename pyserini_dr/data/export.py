"""Our datasets as the files Pyserini's own tools read: TSV topics, TREC qrels, a JsonCollection corpus.

    python -m pyserini_dr.data.export --topics beir-v1.0.0-scifact-test [--corpus beir-v1.0.0-scifact
        [--multifield]] --output DIR

writes ``DIR/topics.tsv`` (``pyserini.search.* --topics DIR/topics.tsv``), ``DIR/qrels.txt``
(``pyserini.eval.trec_eval ... DIR/qrels.txt RUN``) and with ``--corpus`` a JsonCollection folder ``DIR/corpus``
(``pyserini.index.lucene --collection JsonCollection --input DIR/corpus``; ``--multifield``: ``contents`` and a
separate ``title``, to be indexed with ``-fields title`` as Pyserini's BEIR multifield indexes are). The folder
appears only once every file is written.
"""
from __future__ import annotations

import os
import sys

from ..errors import InputError


def export_dataset(topics_name: str, output: str, *, corpus_name: str | None = None,
                   multifield: bool = False) -> dict[str, int]:
    """Write the folder; returns counts of queries, judgements and documents."""
    from ..files import atomic_directory, refuse_foreign_directory
    from .corpus import iter_corpus, write_json_collection
    from .qrels import read_qrels, write_trec_qrels
    from .registry import resolve_corpus, resolve_qrels, resolve_topics
    from .topics import write_topics_tsv

    refuse_foreign_directory(output)  # atomic_directory would replace it whole
    topics = resolve_topics(topics_name)
    qrels = read_qrels(resolve_qrels(topics_name))
    corpus = resolve_corpus(corpus_name) if corpus_name else None
    counts = {"queries": len(topics), "judgements": sum(len(d) for d in qrels.values()), "documents": 0}
    with atomic_directory(output) as tmp:
        write_topics_tsv(topics, os.path.join(tmp, "topics.tsv"))
        write_trec_qrels(qrels, os.path.join(tmp, "qrels.txt"))
        if corpus:
            counts["documents"] = write_json_collection(iter_corpus(corpus), os.path.join(tmp, "corpus"),
                                                        multifield=multifield)
    return counts


def main(argv=None) -> int:
    from ..cli import ArgumentParser

    parser = ArgumentParser(prog="python -m pyserini_dr.data.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", required=True, help="a topic name with qrels, e.g. beir-v1.0.0-scifact-test")
    parser.add_argument("--corpus", help="also the corpus, as a JsonCollection: a dataset name or a corpus file")
    parser.add_argument("--multifield", action="store_true", help="title as its own field (-fields title)")
    parser.add_argument("--output", required=True, help="a new folder")
    args = parser.parse_args(argv)
    if args.multifield and not args.corpus:
        raise InputError("--multifield applies to --corpus")
    counts = export_dataset(args.topics, args.output, corpus_name=args.corpus, multifield=args.multifield)
    print(f"exported {counts['queries']:,} queries, {counts['judgements']:,} judgements"
          + (f", {counts['documents']:,} documents" if args.corpus else "") + f" -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from ..cli import run_main

    run_main(main)
