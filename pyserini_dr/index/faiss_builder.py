"""Faiss indexes from a dense index directory: flat, HNSW, IVF-PQ/OPQ through index-factory strings; shard merging."""
from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np

from ..files import atomic_write, staged_directory
from ..progress import progress
from ..errors import InputError
from .dense import (DOCID_FILE, FAISS_FILE, META_FILE, PARTIAL_FILE, DenseIndex, have_faiss, refuse_foreign_output,
                    write_dense_index, write_faiss_index)
from . import flat_file
from .flat_file import FlatWriter


def new_index(factory: str, dim: int):
    """An empty faiss index of the index-factory string ``factory`` for ``dim`` dimensions (inner product); one
    error line where faiss cannot parse or build it. Also the check a build runs before it encodes anything."""
    try:
        import faiss
    except ImportError:
        raise InputError("faiss is not installed: pip install faiss-cpu") from None
    try:
        return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise InputError(f"faiss cannot build {factory!r}: {str(e).strip().splitlines()[-1]}") from None


def is_jsonl_vectors(directory: str) -> bool:
    """A folder of ``pyserini.encode``'s JSON-lines vectors (``{"id", "contents", "vector"}``, its output without
    ``--to-faiss``) rather than a dense index directory."""
    return (os.path.isdir(directory) and not os.path.exists(os.path.join(directory, DOCID_FILE))
            and any(name.endswith(".jsonl") for name in os.listdir(directory)))


def import_jsonl_vectors(source_dir: str, output_dir: str) -> dict:
    """A flat dense index directory from ``pyserini.encode``'s JSON-lines vectors (what ``pyserini.index.faiss
    --input`` reads): its .jsonl files in name order, every line checked (id, a list of numbers of one length, no
    id twice). No encoder is recorded (Pyserini writes none): a search names it with ``--encoder``."""
    from ..data.lines import json_lines
    from ..errors import refuse_spaced_id, where

    refuse_foreign_output(output_dir)
    files = sorted(os.path.join(source_dir, n) for n in os.listdir(source_dir) if n.endswith(".jsonl"))
    docids: list[str] = []
    seen: set[str] = set()
    dim = None
    with staged_directory(output_dir, last=META_FILE) as tmp:
        with FlatWriter(os.path.join(tmp, PARTIAL_FILE)) as out:
            for path in files:
                for no, obj in json_lines(path):
                    docid, vector = obj.get("id"), obj.get("vector")
                    if docid is None or str(docid) == "":
                        raise InputError(f"{where(path, no)}: a vector line needs an id")
                    refuse_spaced_id(str(docid), "document", where(path, no))
                    if str(docid) in seen:
                        raise InputError(f"{where(path, no)}: duplicate id {docid!r}")
                    try:
                        row = np.asarray(vector, dtype=np.float32)
                    except (TypeError, ValueError):
                        row = None
                    if row is None or row.ndim != 1 or row.size == 0 or (dim is not None and row.size != dim):
                        raise InputError(f"{where(path, no)}: 'vector' must be a list of "
                                         f"{dim or 'one or more'} numbers")
                    dim = row.size
                    seen.add(str(docid))
                    docids.append(str(docid))
                    out.append(row[None])
        if not docids:
            raise InputError(f"{source_dir}: no vectors in its .jsonl files")
        return write_dense_index(tmp, docids, {"dimension": dim, "documents": len(docids),
                                               "source": f"pyserini.encode JSON-lines vectors: {source_dir}"})


def build_index(source_dir: str, output_dir: str, factory: str, *, train_size: int = 200_000,
                ef_construction: int | None = None, seed: int = 0) -> dict:
    """Write ``output_dir`` with the faiss index ``factory`` (e.g. ``HNSW32``, ``IVF1024,PQ64``, ``OPQ64,IVF1024,PQ64``)
    over the vectors of ``source_dir``, inner product; docid and meta are carried over. ``source_dir`` may be
    ``pyserini.encode``'s JSON-lines vectors (``import_jsonl_vectors``; flat: that is the whole build)."""
    if not have_faiss():
        raise InputError("faiss is not installed: pip install faiss-cpu")
    if is_jsonl_vectors(source_dir):
        if factory == "Flat":
            return import_jsonl_vectors(source_dir, output_dir)
        raise InputError(f"{source_dir} holds JSON-lines vectors: import them first (--factory Flat), then build "
                         f"{factory!r} from that index")
    src = DenseIndex(source_dir)
    if os.path.abspath(source_dir) == os.path.abspath(output_dir):
        raise InputError("--output must differ from --input")
    refuse_foreign_output(output_dir)
    src.verify()
    vectors = src.vectors()
    dim = vectors.shape[1]
    index = new_index(factory, dim)
    if ef_construction and hasattr(index, "hnsw"):
        index.hnsw.efConstruction = ef_construction
    started = time.time()
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(vectors), size=min(train_size, len(vectors)), replace=False))
        try:
            index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        except RuntimeError as e:
            reason = str(e).strip().splitlines()[-1]
            raise InputError(f"faiss cannot train {factory!r} on {len(rows):,} vectors: {reason}") from None
    step = 1 << 16
    for start in progress(range(0, len(vectors), step), desc=f"add {factory}", unit="block"):
        index.add(flat_file.rows(vectors, start, start + step))
    with staged_directory(output_dir, last=META_FILE) as tmp:  # appears complete or not at all
        write_faiss_index(index, os.path.join(tmp, FAISS_FILE))
        shutil.copyfile(os.path.join(source_dir, DOCID_FILE), os.path.join(tmp, DOCID_FILE))
        meta = {**src.meta, "documents": len(vectors), "dimension": dim, "index_type": factory,
                "source_index": os.path.abspath(source_dir),
                "build_seconds": round(time.time() - started, 2),
                "index_bytes": os.path.getsize(os.path.join(tmp, FAISS_FILE))}
        with atomic_write(os.path.join(tmp, META_FILE)) as f:
            json.dump(meta, f, indent=2)
    return meta


def merge_shards(shard_dirs: list[str], output_dir: str) -> dict:
    """Concatenate finished shard directories (in the given order) into one flat index directory."""
    refuse_foreign_output(output_dir, resumable="shards")  # under torchrun the output holds the ranks' shards/
    shards = [DenseIndex(d) for d in shard_dirs]
    for shard in shards:
        shard.verify()
        if shard.raw_vectors() is None:
            raise InputError(f"{shard.directory} holds a {shard.meta.get('index_type', 'non-flat')} faiss index, not "
                             "the raw vectors: merge the encoded shards")
    dims = {s.dimension for s in shards}
    if len(dims) != 1:
        raise InputError(f"shards have different dimensions: {sorted(map(str, dims))}")
    encoders = {json.dumps(s.meta.get("encoder"), sort_keys=True) for s in shards}
    if len(encoders) != 1:
        raise InputError("shards were encoded with different encoders or settings")
    docids = [d for shard in shards for d in shard.docids]
    if len(set(docids)) != len(docids):
        raise InputError("the shards share document ids: were they cut from the same corpus twice?")
    with staged_directory(output_dir, last=META_FILE) as tmp:  # appears complete or not at all
        with FlatWriter(os.path.join(tmp, PARTIAL_FILE)) as out:
            for shard in shards:
                vectors = shard.raw_vectors()
                for start in range(0, len(vectors), 1 << 18):  # a memmap is never read into RAM whole
                    out.append(flat_file.rows(vectors, start, start + (1 << 18)))
        return write_dense_index(tmp, docids, _merged_meta(shards, shard_dirs, docids))


def _merged_meta(shards: list[DenseIndex], shard_dirs: list[str], docids: list[str]) -> dict:
    meta = {**shards[0].meta, "shard": None, "start": 0, "count": len(docids),
            "encode_seconds": round(sum(s.meta.get("encode_seconds", 0) for s in shards), 2),
            "empty_documents": sum(s.meta.get("empty_documents", 0) for s in shards),
            "merged_from": [os.path.abspath(d) for d in shard_dirs]}
    meta.pop("checksum", None)
    return meta
