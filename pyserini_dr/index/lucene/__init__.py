"""Lucene inverted indexes built with Anserini's IndexCollection (Pyserini's indexer)."""
from __future__ import annotations

import os
import shutil
import tempfile

from ... import _pyserini
from ...data.corpus import CorpusStats, iter_corpus, write_json_collection
from ...errors import InputError


def is_lucene_index(directory: str) -> bool:
    """A directory holding a Lucene commit point (a ``segments_N`` file)."""
    return os.path.isdir(directory) and any(f.startswith("segments_") for f in os.listdir(directory))


class LuceneIndexBuilder:
    """Corpus (BEIR jsonl or JsonCollection jsonl) -> Lucene index directory, flat or multifield.

    Flat: one ``contents`` field = title + " " + text (Pyserini's BEIR flat regressions).
    Multifield: ``contents`` = text plus a ``title`` field (Pyserini's BEIR multifield regressions).
    Anserini skips a document whose ``contents`` is empty (as in Pyserini's own indexes), so such documents are
    not searchable with BM25; ``not_indexed`` says how many (they stay in dense indexes).
    """

    def __init__(self, multifield: bool = False, threads: int = 1, *, store_contents: bool = False,
                 optimize: bool = False):
        self.multifield = multifield
        self.threads = threads
        self.store_contents = store_contents   # Anserini's -storeContents (raw, positions, docvectors: always)
        self.optimize = optimize               # Anserini's -optimize: one segment

    def build(self, corpus_path: str, index_dir: str) -> CorpusStats:
        if os.path.exists(index_dir) and os.listdir(index_dir):
            raise InputError(f"index directory {index_dir} exists and is not empty; remove it or pick another")
        stats = CorpusStats()
        parent = os.path.dirname(os.path.abspath(index_dir))
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent, prefix=".lucene-build-") as tmp:
            collection = os.path.join(tmp, "collection")
            write_json_collection(iter_corpus(corpus_path, stats), collection, multifield=self.multifield)
            if stats.documents == 0:
                raise InputError(f"{corpus_path}: no documents")
            stats.not_indexed = stats.empty_text if self.multifield else stats.empty
            staging = os.path.join(tmp, "index")
            _pyserini.build_lucene_index(collection, staging, threads=self.threads,
                                         fields=["title"] if self.multifield else (), store_raw=True,
                                         store_contents=self.store_contents, optimize=self.optimize)
            if os.path.isdir(index_dir):
                os.rmdir(index_dir)
            shutil.move(staging, index_dir)  # same filesystem: a rename, so no half-built index appears
        return stats
