"""Faiss's flat index file, read and written without faiss: the one copy of a dense index's vectors.

``faiss.write_index`` lays out an ``IndexFlatIP`` / ``IndexFlatL2`` as a 45-byte header (faiss ``impl/index_write.cpp``:
the fourcc ``IxFI`` / ``IxF2``, ``write_index_header``'s d, ntotal, two dummies, is_trained and metric, then the
codes' length in floats) followed by the float32 vectors, row after row. So the file Pyserini's FaissSearcher loads
with ``faiss.read_index`` also serves our readers as a memmap at a fixed offset: no ``embeddings.f32`` beside it,
half the disk, and an encode on a machine without faiss still writes an ``index`` Pyserini opens.
"""
from __future__ import annotations

import os
import struct

import numpy as np

from ..errors import InputError

_FOURCC = {"inner_product": b"IxFI", "l2": b"IxF2"}
_METRIC_CODE = {"inner_product": 0, "l2": 1}
_LAYOUT = struct.Struct("<4siqqq?iQ")  # fourcc, d, ntotal, dummy, dummy, is_trained, metric_type, codes / 4
_DUMMY = 1 << 20                       # what write_index_header writes in both dummy fields
HEADER_BYTES = _LAYOUT.size


def header(dim: int, count: int, metric: str = "inner_product") -> bytes:
    """The bytes faiss writes before ``count`` vectors of ``dim`` dimensions."""
    return _LAYOUT.pack(_FOURCC[metric], dim, count, _DUMMY, _DUMMY, True, _METRIC_CODE[metric], count * dim)


def layout(path: str) -> tuple[int, int] | None:
    """(dimension, count) of a flat faiss file whose size matches its header; None for any other faiss index
    (HNSW, IVF, PQ: read through faiss)."""
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES or head[:4] not in _FOURCC.values():
        return None
    _, dim, count, _, _, _, _, floats = _LAYOUT.unpack(head)
    if dim <= 0 or count < 0 or floats != count * dim:
        return None
    if os.path.getsize(path) != HEADER_BYTES + 4 * floats:
        raise InputError(f"{path}: a flat faiss index of {count:,} vectors of {dim} dimensions, but "
                         f"{os.path.getsize(path):,} bytes long (cut short or damaged)")
    return dim, count


def vectors(path: str, dim: int, rows: int, mode: str = "r") -> np.memmap:
    """The vectors of a flat faiss file (``rows`` of them: a file being written may hold room for more)."""
    return np.memmap(path, dtype=np.float32, mode=mode, offset=HEADER_BYTES, shape=(rows, dim))


def rows(vectors: np.ndarray, start: int, end: int) -> np.ndarray:
    """An aligned float32 copy of ``vectors[start:end]``. The vectors of a flat file start at byte 45, so its memmap is
    unaligned, and numpy copies unaligned float32 at half the speed of bytes: such rows are copied as bytes."""
    block = vectors[start:end]
    if block.flags.aligned or not block.flags.c_contiguous or block.dtype != np.float32:
        return np.array(block, dtype=np.float32)
    return np.array(block.view(np.uint8)).view(np.float32)


def finish(path: str, dim: int, count: int, metric: str = "inner_product") -> None:
    """A file whose first ``count`` rows are written (room for more reserved) cut to them, its header written."""
    with open(path, "r+b") as f:
        f.truncate(HEADER_BYTES + 4 * count * dim)
        f.seek(0)
        f.write(header(dim, count, metric))


class FlatWriter:
    """Appends float32 rows to a new flat faiss file; ``close`` writes the header of the rows appended."""

    def __init__(self, path: str):
        self.path, self.dim, self.count = path, None, 0
        self._file = open(path, "wb")
        self._file.write(bytes(HEADER_BYTES))

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.dim is None:
            self.dim = rows.shape[1]
        self._file.write(rows.tobytes())
        self.count += len(rows)

    def append_bytes(self, data: bytes, dim: int) -> None:
        """Raw float32 rows of ``dim`` dimensions, as another file holds them."""
        self.dim = dim
        self._file.write(data)
        self.count += len(data) // (4 * dim)

    def close(self) -> None:
        self._file.close()
        if self.dim is not None:
            finish(self.path, self.dim, self.count)

    def __enter__(self) -> "FlatWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write(path: str, rows: np.ndarray) -> None:
    """``rows`` (N x dim float32) as a flat faiss file."""
    with FlatWriter(path) as out:
        out.append(rows)
