"""Prebuilt indexes: registry entries (``prebuilt/*.yaml``, plus ``$PYSERINI_DR_PREBUILT`` directories) and
``--index NAME`` resolution (download from mirrors in turn, size and checksum verified, safe unpacking, cache).

Importing this package needs pyyaml only: no pyserini, Java, torch or faiss.
"""
from .fetch import fetch, resolve_index
from .registry import PrebuiltIndex, load_registry, lookup

__all__ = ["PrebuiltIndex", "fetch", "load_registry", "lookup", "resolve_index"]
