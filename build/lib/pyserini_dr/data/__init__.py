"""Corpora, topics, qrels and runs: readers, writers and the dataset registry."""
from .corpus import Document, read_corpus, iter_corpus, write_json_collection
from .topics import read_topics, write_topics_tsv
from .qrels import read_qrels, write_trec_qrels
from .runs import read_run, write_run, sort_hits
from .registry import resolve_corpus, resolve_topics, resolve_qrels, DATASETS

__all__ = ["Document", "read_corpus", "iter_corpus", "write_json_collection", "read_topics", "write_topics_tsv",
           "read_qrels", "write_trec_qrels", "read_run", "write_run", "sort_hits", "resolve_corpus",
           "resolve_topics", "resolve_qrels", "DATASETS"]
