"""Pyserini's own prebuilt-index names (its BEIR, MS MARCO and TREC tables: BM25, Lucene HNSW/flat and faiss
indexes), fetched from Pyserini's URLs with its md5. Any entry (ours too, where it names the same tarball) is first
looked up in Pyserini's download cache, so an index Pyserini already unpacked is not downloaded again.

Pyserini keeps an index in ``$PYSERINI_CACHE/indexes/<tarball name>.<md5>``; the md5 in that name is the one the
tarball was checked against before unpacking (Pyserini deletes the tarball after), so a directory of that name that
holds an index of the entry's kind is taken as verified.
"""
from __future__ import annotations

from .. import _pyserini
from ..errors import InputError
from .registry import PrebuiltIndex


def pyserini_entry(name: str) -> PrebuiltIndex | None:
    """Pyserini's entry for ``name`` in our registry's shape, or None when Pyserini does not know the name."""
    try:
        tables = _pyserini.pyserini_prebuilt_indexes()
    except _pyserini.JavaUnavailable:
        return None
    for kind, table in tables.items():
        if name in table:
            info = table[name]
            break
    else:
        return None
    if kind == "impact":
        raise InputError(f"{name} is one of Pyserini's impact (learned sparse) indexes, which pyserini_dr does not "
                         "search")
    filename = info.get("filename") or info["urls"][0].split("/")[-1]
    size = info.get("size compressed (bytes)")
    return PrebuiltIndex(name, "pyserini.prebuilt_index_info", {
        "type": kind, "description": info.get("description", ""), "filename": filename, "urls": list(info["urls"]),
        "md5": info["md5"], "sha256": None, "size": int(size) if size else None,
        "documents": info.get("documents")})
