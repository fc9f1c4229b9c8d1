"""Registry files of prebuilt indexes: ``prebuilt/*.yaml`` in the repository plus ``$PYSERINI_DR_PREBUILT`` dirs.

A registry file maps index names to entries shaped like pyserini's prebuilt-index registry (description,
filename, urls, md5, size, documents) plus what a dense index needs to be searched (model, encoder class and
settings, dimension) and what it should score. Every entry is checked on load: a malformed file is one error
naming the file, the entry and the key.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "prebuilt"
REGISTRY_ENV = "PYSERINI_DR_PREBUILT"
REGISTRY_SUFFIXES = (".yaml", ".yml", ".json")  # JSON is YAML: one reader for both
KINDS = ("dense", "lucene", "lucene-flat", "lucene-hnsw")
VECTOR_KINDS = ("dense", "lucene-flat", "lucene-hnsw")  # searched with a query encoder

_STR, _INT, _LIST, _MAP = "a string", "an integer", "a list of strings", "a mapping"
_REQUIRED = {"type": _STR, "description": _STR, "corpus": _STR, "documents": _INT, "filename": _STR,
             "urls": _LIST, "md5": _STR, "sha256": _STR, "size": _INT}
_REQUIRED_DENSE = {"model": _STR, "encoder": _MAP, "dimension": _INT}
_OPTIONAL = {"index_type": _STR, "linked_lucene_index": _STR, "expected_scores": _MAP, "scores_source": _STR,
             "recipe": _LIST, "note": _STR, "aliases": _LIST}
_NULLABLE = {"md5", "sha256", "size"}  # unknown until built (an entry with urls must have md5 and size)
_HEX = {"md5": 32, "sha256": 64}


@dataclass(frozen=True)
class PrebuiltIndex:
    name: str
    file: str       # the registry file it came from (for messages and recipes)
    info: dict

    @property
    def kind(self) -> str:
        return self.info["type"]


def registry_dirs() -> list[Path]:
    """The repository's ``prebuilt/`` first, then each directory of ``$PYSERINI_DR_PREBUILT`` (later ones win)."""
    extra = [Path(p) for p in os.environ.get(REGISTRY_ENV, "").split(os.pathsep) if p]
    return [REPO_REGISTRY] + extra


def registry_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in REGISTRY_SUFFIXES and not p.name.startswith("."))


def _kind_of(value) -> str:
    return {str: _STR, int: _INT, list: _LIST, dict: _MAP}.get(type(value), type(value).__name__)


def check_name(name, path=None) -> None:
    """An index name is a file and folder name of its own: no '/', no whitespace, not '.', '..' or hidden (a build
    writes ``OUTPUT_DIR/NAME``: '..' would put the index outside it)."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") or any(
            c.isspace() for c in name):
        raise InputError(f"{str(path) + ': ' if path else ''}{name!r} is not an index name (a non-empty string without "
                         "'/', whitespace or a leading '.')")


def check_entry(path, name, entry) -> None:
    """Raise one InputError naming the file, entry and key when ``entry`` does not have the registry's shape."""
    def fail(message: str):
        raise InputError(f"{path}: entry {name!r}: {message}")

    check_name(name, path)
    if not isinstance(entry, dict):
        fail(f"expected a mapping of keys, found {type(entry).__name__}")
    kind = entry.get("type")
    required = {**_REQUIRED, **(_REQUIRED_DENSE if kind in VECTOR_KINDS else {})}
    for key in required:
        if key not in entry:
            fail(f"missing key {key!r}")
    for key, value in entry.items():
        expected = required.get(key) or _OPTIONAL.get(key)
        if expected is None:
            fail(f"unknown key {key!r}")
        if value is None and key in _NULLABLE:
            continue
        if _kind_of(value) != expected or (expected == _LIST and not all(isinstance(v, str) for v in value)):
            fail(f"key {key!r} must be {expected}" + (" or null" if key in _NULLABLE else ""))
        if key in _HEX and not re.fullmatch(f"[0-9a-f]{{{_HEX[key]}}}", value):
            fail(f"key {key!r} must be {_HEX[key]} lowercase hex digits")
    if kind not in KINDS:
        fail(f"key 'type' must be one of {', '.join(KINDS)}, not {kind!r}")
    if not entry["filename"].endswith(".tar.gz") or "/" in entry["filename"]:
        fail("key 'filename' must be a file name ending in .tar.gz")
    if entry["urls"] and (entry["md5"] is None or entry["size"] is None):
        fail("an entry with urls needs its md5 and size")
    if not all("://" in url for url in entry["urls"]):
        fail("key 'urls' must hold URLs (scheme://...)")
    if kind in VECTOR_KINDS and not isinstance(entry["encoder"].get("encoder_class"), str):
        fail("key 'encoder' must name its encoder_class")
    for topics, scores in entry.get("expected_scores", {}).items():
        if not isinstance(scores, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in scores.values()):
            fail(f"expected_scores[{topics!r}] must map measures to numbers")


def read_registry_file(path) -> dict[str, dict]:
    """name -> entry of one registry file, each entry checked."""
    from ..data.yaml_files import load_yaml

    data = load_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of index names to entries, found {type(data).__name__}")
    for name, entry in data.items():
        check_entry(path, name, entry)
    return data


def load_registry() -> dict[str, PrebuiltIndex]:
    """Every entry of every registry directory, by name and by alias."""
    registry: dict[str, PrebuiltIndex] = {}
    for directory in registry_dirs():
        seen: dict[str, Path] = {}  # within one directory a name may appear once; a later directory overrides
        for path in registry_files(directory):
            for name, info in read_registry_file(path).items():
                for key in [name, *info.get("aliases", [])]:
                    if key in seen:
                        raise InputError(f"{path}: index name {key!r} is also defined in {seen[key]}")
                    seen[key] = path
                    registry[key] = PrebuiltIndex(name, str(path), info)
    for entry in {e.name: e for e in registry.values()}.values():
        linked = entry.info.get("linked_lucene_index")
        if linked is not None and (linked not in registry or registry[linked].kind != "lucene"):
            raise InputError(f"{entry.file}: entry {entry.name!r}: linked_lucene_index {linked!r} is not a lucene "
                             "entry of the registry")
    return registry


def lookup(name: str, registry: dict[str, PrebuiltIndex] | None = None) -> PrebuiltIndex:
    registry = load_registry() if registry is None else registry
    if name in registry:
        return registry[name]
    close = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.6)
    hint = f"; close names: {', '.join(close)}" if close else ""
    raise InputError(f"no such index directory or prebuilt index: {name!r}{hint} "
                     "(python -m pyserini_dr.prebuilt list shows them all)")
