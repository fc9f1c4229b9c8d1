"""Dense vectors in Lucene: flat and HNSW (optionally int8-quantized) indexes built by Anserini's indexers.

A Lucene dense index directory of ours is Anserini's own index (searchable by ``pyserini.search.lucene --dense``)
plus ``meta.json`` (the encoder settings and build parameters, so search needs no flags) and ``docid`` (our row
order, which breaks score ties as faiss does). With ``shards`` > 1 the Lucene indexes sit in ``shard00``,
``shard01``, ... (contiguous ranges of rows), each one searchable on its own; ``meta.json`` and ``docid`` stay on top.

Anserini stores every vector with Lucene's DOT_PRODUCT similarity, which Lucene defines for unit-length vectors
and scores as (1 + inner product) / 2; so only unit-length vectors are indexed (others are refused), and our
searcher reports the inner product, the score faiss gives.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import numpy as np

from ... import _pyserini
from ...errors import InputError
from ...files import atomic_write
from ..dense import DOCID_FILE, META_FILE, DenseIndex
from . import is_lucene_index

KINDS = ("lucene-flat", "lucene-hnsw")
UNIT_NORM_TOLERANCE = 1e-3
PARQUET_BYTES = 1 << 26  # vectors per Parquet file: Anserini holds one file's vectors in memory per thread


def has_dense_vectors(directory: str) -> bool:
    """A Lucene index (or a shard folder of ours) whose files include vectors (Lucene's ``.vec`` files)."""
    folders = [directory] + shard_dirs(directory)
    return any(is_lucene_index(d) and any(f.endswith(".vec") for f in os.listdir(d)) for d in folders)


def shard_dirs(directory: str) -> list[str]:
    if not os.path.isdir(directory):
        return []
    return [os.path.join(directory, d) for d in sorted(os.listdir(directory))
            if d.startswith("shard") and d[5:].isdigit() and os.path.isdir(os.path.join(directory, d))]


class LuceneDenseIndex:
    """A Lucene dense index: ours (``meta.json``, ``docid``, maybe shards) or one built by Pyserini/Anserini."""

    def __init__(self, directory: str):
        if not os.path.isdir(directory):
            raise InputError(f"no such Lucene dense index directory: {directory}")
        self.directory = directory
        meta_path = os.path.join(directory, META_FILE)
        self.meta: dict = {}
        if os.path.isfile(meta_path):
            with open(meta_path) as f:
                self.meta = json.load(f)
            if self.meta.get("index_type") not in KINDS:
                raise InputError(f"{directory} is a {self.meta.get('index_type', 'faiss')} dense index, not a Lucene "
                                 "one: search it with python -m pyserini_dr.search.faiss")
        self.shards = shard_dirs(directory) if self.meta.get("lucene", {}).get("shards", 1) > 1 else [directory]
        if not all(is_lucene_index(d) for d in self.shards):
            raise InputError(f"{directory} is not a Lucene index (no segments_* file)")
        if not any(f.endswith(".vec") for d in self.shards for f in os.listdir(d)):
            raise InputError(f"{directory} is a Lucene index without dense vectors (a BM25 index?): search it "
                             "without --dense")
        self.docids: list[str] | None = None
        docid_path = os.path.join(directory, DOCID_FILE)
        if self.meta and os.path.isfile(docid_path):
            with open(docid_path) as f:
                self.docids = [line.rstrip("\n") for line in f]
        if not self.meta:  # Pyserini's or Anserini's own index: read what Lucene knows
            self.meta = {"dimension": _pyserini.lucene_vector_facts(directory)[1]}

    @property
    def hnsw(self) -> bool:
        kind = self.meta.get("index_type")
        if kind:
            return kind == "lucene-hnsw"
        return any(f.endswith(".vex") for d in self.shards for f in os.listdir(d))

    @property
    def dimension(self) -> int | None:
        return self.meta.get("dimension")


class LuceneDenseIndexBuilder:
    """A dense index directory of ours (or Pyserini's ``index`` + ``docid``) -> a Lucene flat or HNSW index."""

    def __init__(self, *, hnsw: bool, m: int = 16, ef_construction: int = 100, int8: bool = False,
                 shards: int = 1, threads: int = 1, optimize: bool = False):
        self.hnsw, self.m, self.ef_construction, self.int8 = hnsw, m, ef_construction, int8
        self.shards, self.threads, self.optimize = shards, threads, optimize

    def build(self, dense_dir: str, index_dir: str) -> dict:
        if os.path.exists(index_dir) and (not os.path.isdir(index_dir) or os.listdir(index_dir)):
            raise InputError(f"index directory {index_dir} exists and is not empty; remove it or pick another")
        source = DenseIndex(dense_dir)
        vectors = source.vectors()
        if len(vectors) == 0:
            raise InputError(f"{dense_dir}: no vectors")
        if self.shards > len(vectors):
            raise InputError(f"--shards {self.shards} is more than the {len(vectors)} documents")
        started = time.time()
        parent = os.path.dirname(os.path.abspath(index_dir))
        os.makedirs(parent, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=parent, prefix=".lucene-dense-build-") as tmp:
            staging = os.path.join(tmp, "index")
            os.makedirs(staging)
            bounds = np.linspace(0, len(vectors), self.shards + 1).astype(int)
            for shard, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
                target = staging if self.shards == 1 else os.path.join(staging, f"shard{shard:02d}")
                parquet = os.path.join(tmp, f"parquet{shard:02d}")
                write_parquet(vectors, source.docids, int(start), int(end), parquet, dense_dir)
                _pyserini.build_lucene_dense_index(parquet, target, hnsw=self.hnsw, m=self.m,
                                                   ef_construction=self.ef_construction, int8=self.int8,
                                                   threads=self.threads, optimize=self.optimize)
                shutil.rmtree(parquet)
                documents = _pyserini.lucene_vector_facts(target)[0]
                if documents != end - start:  # Anserini skips a document it cannot index and goes on
                    raise InputError(f"Anserini indexed {documents} of {end - start} vectors of {dense_dir}")
            with atomic_write(os.path.join(staging, DOCID_FILE)) as f:
                f.writelines(d + "\n" for d in source.docids)
            meta = {key: value for key, value in source.meta.items()
                    if key not in ("index_type", "shard", "start", "checksum")}
            if "checksum" in source.meta:
                meta["source_checksum"] = source.meta["checksum"]  # of the vectors this index was built from
            meta.update({"index_type": "lucene-hnsw" if self.hnsw else "lucene-flat", "documents": len(vectors),
                         "dimension": int(vectors.shape[1]), "metric": "inner_product", "source": os.path.abspath(dense_dir),
                         "lucene": {"similarity": "DOT_PRODUCT", "M": self.m if self.hnsw else None,
                                    "efC": self.ef_construction if self.hnsw else None, "int8": self.int8,
                                    "shards": self.shards, "optimize": self.optimize},
                         "build_seconds": round(time.time() - started, 2)})
            with atomic_write(os.path.join(staging, META_FILE)) as f:
                json.dump(meta, f, indent=2)
            if os.path.isdir(index_dir):
                os.rmdir(index_dir)
            os.rename(staging, index_dir)  # same filesystem: no half-built index ever appears
        return meta


def write_parquet(vectors: np.ndarray, docids: list[str], start: int, end: int, folder: str, name: str) -> None:
    """Rows ``start:end`` as Parquet files of (docid, vector), a slice at a time (never the corpus in memory);
    refuses a vector that is not of unit length (Lucene's DOT_PRODUCT needs them so)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder)
    dim = vectors.shape[1]
    rows = max(1024, PARQUET_BYTES // (4 * dim))
    for part, first in enumerate(range(start, end, rows)):
        block = np.ascontiguousarray(vectors[first:min(end, first + rows)], dtype=np.float32)
        norms = np.linalg.norm(block, axis=1)
        bad = np.flatnonzero(~(np.abs(norms - 1) <= UNIT_NORM_TOLERANCE))
        if len(bad):
            row = first + int(bad[0])
            raise InputError(f"{name}: vector of {docids[row]!r} has length {norms[bad[0]]:.4g}; Lucene dense "
                             "indexes (DOT_PRODUCT) hold unit-length vectors only: encode with --l2-norm, or use "
                             "a faiss index")
        offsets = pa.array(np.arange(0, (len(block) + 1) * dim, dim, dtype=np.int32))
        table = pa.table({"docid": pa.array(docids[first:first + len(block)], type=pa.string()),
                          "vector": pa.ListArray.from_arrays(offsets, pa.array(block.ravel()))})
        pq.write_table(table, os.path.join(folder, f"part{part:05d}.parquet"))
