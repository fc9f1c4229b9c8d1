"""The dense index directory: Pyserini's layout (``index`` + ``docid``) plus our ``meta.json`` and vectors.

- ``docid``: one document id per line (what pyserini's FaissSearcher reads);
- ``index``: a faiss index, flat inner product unless built otherwise. A flat one is written without faiss
  (``flat_file``) and is the one copy of the vectors: the torch backend and the index builders memmap it;
- ``meta.json``: model, encoder class and settings, dimension, count, corpus, index type, checksum. Written last:
  a directory without it is unfinished.
Directories written before the flat file became the one copy also hold ``embeddings.f32`` (the raw vectors); they
are read as before. Importable without faiss (the GPU machine has none): faiss is imported only to read an index
that is not flat.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ..files import atomic_path, atomic_write, refuse_foreign_directory
from ..errors import InputError
from . import flat_file

META_FILE = "meta.json"
EMBEDDINGS_FILE = "embeddings.f32"
DOCID_FILE = "docid"
FAISS_FILE = "index"
PARTIAL_FILE = ".index.partial"  # the flat file while its vectors are written; renamed to ``index`` when finished


def have_faiss() -> bool:
    try:
        import faiss  # noqa: F401
        return True
    except ImportError:
        return False


def write_faiss_index(index, path: str) -> None:
    import faiss

    with atomic_path(path) as tmp:
        faiss.write_index(index, tmp)


def refuse_foreign_output(directory: str, *, resumable: str | None = None) -> None:
    """Refuse to write an index into ``directory`` unless it is new or empty: a command writes only into a directory
    it created, never over a finished index (``meta.json``), an index without one (``index``/``docid``: Pyserini's
    own layout, as its tarballs hold), a Lucene index or anything else. ``resumable`` names the progress file by
    which an interrupted run of ours marks the directory as its own, to be continued."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"{directory} is a file, not a directory to write an index into")
    if os.path.isfile(os.path.join(directory, META_FILE)):
        raise InputError(f"{directory} already holds a finished index; remove it or pick another --output")
    if resumable and os.path.exists(os.path.join(directory, resumable)):
        return
    ours = [f for f in (FAISS_FILE, DOCID_FILE, EMBEDDINGS_FILE, PARTIAL_FILE) if os.path.exists(os.path.join(directory, f))]
    if ours:
        raise InputError(f"{directory} holds {' and '.join(ours)} but no {META_FILE} (Pyserini's layout, or an "
                         "interrupted build): remove it or pick another --output")
    refuse_foreign_directory(directory)  # a Lucene index, a model, anything else


def refuse_non_finite(block: np.ndarray, docids: list[str], start: int, where: str) -> None:
    """Vectors with nan or inf (a broken model, float16 overflow) would be indexed and ranked without a word."""
    finite = np.isfinite(block).all(axis=1)
    if not finite.all():
        first = start + int(np.flatnonzero(~finite)[0])
        raise InputError(f"{where}: {int((~finite).sum()):,} vectors hold nan or inf (first: document "
                         f"{docids[first] if first < len(docids) else first})")


def write_dense_index(directory: str, docids: list[str], meta: dict) -> dict:
    """Finish a directory whose vectors are written to ``PARTIAL_FILE`` (a flat faiss file, room for at least
    ``len(docids)`` rows): the file cut to the docids' rows and given its header, one pass over the vectors
    (finite, checksum), then ``index``, ``docid`` and ``meta.json``, in that order."""
    partial = os.path.join(directory, PARTIAL_FILE)
    dim = int(meta["dimension"])
    room = (os.path.getsize(partial) - flat_file.HEADER_BYTES) // (4 * dim)
    if room < len(docids):
        raise InputError(f"{directory}: {room} vectors but {len(docids)} docids")
    flat_file.finish(partial, dim, len(docids))
    digest = hashlib.sha256()
    vectors = flat_file.vectors(partial, dim, len(docids))
    for start in range(0, len(docids), 1 << 18):  # a memmap is never read into RAM whole
        block = flat_file.rows(vectors, start, start + (1 << 18))
        refuse_non_finite(block, docids, start, directory)
        digest.update(block.tobytes())
    del vectors
    meta = {**meta, "documents": len(docids), "dimension": dim, "checksum": "sha256:" + digest.hexdigest()}
    meta.setdefault("index_type", "Flat")
    meta.setdefault("metric", "inner_product")
    os.replace(partial, os.path.join(directory, FAISS_FILE))
    with atomic_write(os.path.join(directory, DOCID_FILE)) as f:
        f.writelines(d + "\n" for d in docids)
    with atomic_write(os.path.join(directory, META_FILE)) as f:
        json.dump(meta, f, indent=2)
    return meta


class DenseIndex:
    """A finished dense index directory: its meta, docids and vectors (memmapped)."""

    def __init__(self, directory: str):
        self.directory = directory
        meta_path = os.path.join(directory, META_FILE)
        if not os.path.isdir(directory):
            raise InputError(f"no such dense index directory: {directory}")
        if os.path.isfile(meta_path):
            with open(meta_path) as f:
                self.meta = json.load(f)
        elif os.path.isfile(os.path.join(directory, FAISS_FILE)):
            self.meta = {}  # a plain Pyserini index: no meta, encoder settings must come from the command line
        else:
            raise InputError(f"{directory} is not a finished dense index (no {META_FILE}; an interrupted encode?)")
        docid_path = os.path.join(directory, DOCID_FILE)
        if not os.path.isfile(docid_path):
            raise InputError(f"{directory} has no {DOCID_FILE} file")
        with open(docid_path) as f:  # one split in C: 8.8M ids in a fraction of a per-line loop's time
            self.docids = f.read().split("\n")
        if self.docids[-1] == "":
            self.docids.pop()

    def verify(self) -> None:
        """Refuses an index whose files disagree with each other: vectors and docids in number, a docid twice,
        nan or inf vectors, raw vectors that do not match the checksum meta.json records. One pass over the
        vectors: for builds and packing, not for every search."""
        if len(set(self.docids)) != len(self.docids):
            raise InputError(f"{self.directory}: {DOCID_FILE} lists a document id twice")
        if self.meta.get("documents") not in (None, len(self.docids)):
            raise InputError(f"{self.directory}: {META_FILE} records {self.meta['documents']:,} documents, "
                             f"{DOCID_FILE} lists {len(self.docids):,}")
        vectors = self.raw_vectors()
        if vectors is None:
            if os.path.isfile(os.path.join(self.directory, FAISS_FILE)):
                self.faiss_index()  # its count against the docids
            return
        digest = hashlib.sha256()
        for start in range(0, len(vectors), 1 << 18):
            block = flat_file.rows(vectors, start, start + (1 << 18))
            refuse_non_finite(block, self.docids, start, self.directory)
            digest.update(block.tobytes())
        recorded = self.meta.get("checksum")
        if recorded and recorded != "sha256:" + digest.hexdigest():
            raise InputError(f"{self.directory}: its vectors do not match the checksum {META_FILE} records "
                             "(changed or damaged since it was written)")

    @property
    def dimension(self) -> int | None:
        return self.meta.get("dimension")

    def vectors(self) -> np.ndarray:
        """All vectors, float32: memmapped from a flat ``index`` (or an older directory's ``embeddings.f32``), else
        reconstructed from the faiss index."""
        vectors = self.raw_vectors()
        if vectors is not None:
            return vectors
        index = self.faiss_index()
        return index.reconstruct_n(0, index.ntotal)

    def raw_vectors(self) -> np.memmap | None:
        """The stored float32 vectors, memmapped: ``embeddings.f32`` where an older directory has it, else a flat
        faiss ``index``; None where the index is of another kind (HNSW, IVF, PQ)."""
        emb = os.path.join(self.directory, EMBEDDINGS_FILE)
        if os.path.isfile(emb):
            dim = self.dimension or 0
            if not dim:
                raise InputError(f"{self.directory}: {EMBEDDINGS_FILE} without a dimension in {META_FILE}")
            rows, extra = divmod(os.path.getsize(emb), 4 * dim)
            if rows != len(self.docids) or extra:
                raise InputError(f"{self.directory}: {EMBEDDINGS_FILE} holds {rows:,} vectors of {dim} dimensions"
                                 f"{' and a partial one' if extra else ''}, {DOCID_FILE} {len(self.docids):,} ids")
            return np.memmap(emb, dtype=np.float32, mode="r", shape=(len(self.docids), dim))
        path = os.path.join(self.directory, FAISS_FILE)
        shape = flat_file.layout(path) if os.path.isfile(path) else None
        if shape is None:
            return None
        dim, rows = shape
        if rows != len(self.docids) or dim != (self.dimension or dim):
            raise InputError(f"{self.directory}: {FAISS_FILE} holds {rows:,} vectors of {dim} dimensions, "
                             f"{DOCID_FILE} {len(self.docids):,} ids" +
                             (f", {META_FILE} {self.dimension} dimensions" if dim != (self.dimension or dim) else ""))
        return flat_file.vectors(path, dim, rows)

    def faiss_index(self):
        path = os.path.join(self.directory, FAISS_FILE)
        if not os.path.isfile(path):
            raise InputError(f"{self.directory} has no faiss '{FAISS_FILE}' file")
        try:
            import faiss
        except ImportError:
            raise InputError("faiss is not installed: use --backend torch, or pip install faiss-cpu") from None
        index = faiss.read_index(path)
        if index.ntotal != len(self.docids):
            raise InputError(f"{self.directory}: faiss index has {index.ntotal} vectors, docid has {len(self.docids)}")
        return index
