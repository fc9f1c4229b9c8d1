"""Open any index searched with query vectors: a faiss dense index or a Lucene dense index, told apart by the
``index_type`` of its ``meta.json`` or, without one (Pyserini's own indexes), by its files."""
from __future__ import annotations

import json
import os

from .dense import META_FILE, DenseIndex
from .lucene import is_lucene_index
from .lucene.dense import KINDS as LUCENE_KINDS, LuceneDenseIndex, shard_dirs


def is_lucene_dense(directory: str) -> bool:
    meta_path = os.path.join(directory, META_FILE)
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            try:
                return json.load(f).get("index_type") in LUCENE_KINDS
            except (ValueError, AttributeError):
                return False
    return is_lucene_index(directory) or bool(shard_dirs(directory))


def open_vector_index(directory: str) -> DenseIndex | LuceneDenseIndex:
    return LuceneDenseIndex(directory) if is_lucene_dense(directory) else DenseIndex(directory)
