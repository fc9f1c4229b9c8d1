"""Encoded queries as files Pyserini and Anserini read.

- ``.tsv``: ``qid<TAB>[v1, v2, ...]``: topics for ``python -m pyserini.search.lucene --dense`` (each query's text is
  its vector, which Anserini's VectorQueryGenerator parses);
- ``.jsonl`` / ``.jsonl.gz``: ``{"qid": ..., "vector": [...]}``: Anserini's JsonStringVector topics;
- ``.pkl``: a pandas DataFrame of ``id``, ``text``, ``embedding``: what ``pyserini.encode.query`` writes and
  ``pyserini.search.faiss --encoded-queries`` reads.
Values are written with float32 round-trip precision: read back, each vector is bit-identical.
"""
from __future__ import annotations

import gzip
import json

import numpy as np

from ..errors import InputError
from ..files import atomic_path

FORMATS = (".tsv", ".jsonl", ".jsonl.gz", ".pkl")


def write_query_vectors(path: str, qids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
    fmt = next((f for f in FORMATS if str(path).endswith(f)), None)
    if fmt is None:
        raise InputError(f"{path}: query vectors are written as {', '.join(FORMATS)} (by the file's extension)")
    rows = np.asarray(vectors, dtype=np.float32).tolist()  # a float32 as a double: repr reads back exactly
    with atomic_path(path) as tmp:
        if fmt == ".pkl":
            import pandas as pd

            pd.DataFrame({"id": qids, "text": texts, "embedding": list(np.asarray(vectors, np.float32))}
                         ).to_pickle(tmp)
            return
        opener = gzip.open if fmt == ".jsonl.gz" else open
        with opener(tmp, "wt", encoding="utf-8") as f:
            for qid, row in zip(qids, rows):
                if fmt == ".tsv":
                    f.write(f"{qid}\t{json.dumps(row)}\n")
                else:
                    f.write(json.dumps({"qid": qid, "vector": row}) + "\n")
