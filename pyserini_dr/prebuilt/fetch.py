"""Prebuilt index names -> local directories: download (mirrors in turn), verify, unpack safely, cache.

The cache (``$PYSERINI_DR_CACHE/indexes/<name>.<md5>``, as pyserini names its own) only ever holds complete,
verified indexes: the tarball is downloaded and unpacked inside a temporary folder beside the target, and the
index directory is renamed into place last. Whatever fails on the way, the temporary folder is removed.
"""
from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import PurePosixPath

from ..data.download import cache_dir, download
from ..errors import InputError
from .registry import PrebuiltIndex, lookup


def resolve_index(name_or_path: str, kind: str | tuple[str, ...] | None = None) -> str:
    """An index directory for ``--index``: an existing directory as given, else a prebuilt index fetched by name.

    A value that looks like a path (it has a slash) is returned unchanged, so the caller reports the missing
    directory in its own words. ``kind`` (a registry kind, or several) refuses a prebuilt index of another kind.
    """
    if os.path.isdir(name_or_path) or os.sep in name_or_path or "/" in name_or_path:
        return name_or_path
    try:
        entry = lookup(name_or_path)
    except InputError:  # not ours: one of Pyserini's own names?
        from .pyserini_names import pyserini_entry

        entry = pyserini_entry(name_or_path)
        if entry is None:
            raise
    _check_kind(entry, kind)
    return fetch(entry)


def _check_kind(entry: PrebuiltIndex, kind: str | tuple[str, ...] | None) -> None:
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds is not None and entry.kind not in kinds:
        raise InputError(f"{entry.name} is a prebuilt {entry.kind} index; this command needs a "
                         f"{' or '.join(kinds)} index")


def fetch(entry: PrebuiltIndex) -> str:
    """The cached directory of ``entry``, downloaded and unpacked first if it is not there yet."""
    info = entry.info
    if not info["urls"]:
        raise InputError(f"prebuilt index {entry.name} has no download yet: build it with the recipe in "
                         f"{entry.file} (python -m pyserini_dr.prebuilt build {entry.name} ...)")
    root = cache_dir("indexes")
    target = os.path.join(root, f"{entry.name}.{info['md5']}")
    if os.path.isdir(target):
        return target
    unpacked_by_pyserini = pyserini_cached(entry)  # the same tarball (same md5), already fetched by Pyserini
    if unpacked_by_pyserini:
        return unpacked_by_pyserini
    staging = tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=root)
    try:
        tarball = download(info["urls"], info["md5"], os.path.join(staging, info["filename"]), size=info["size"],
                           sha256=info["sha256"])
        unpacked = unpack(tarball, os.path.join(staging, "unpacked"))
        check_index_dir(unpacked, entry)
        try:
            os.replace(unpacked, target)
        except OSError:
            if not os.path.isdir(target):  # else another process put the same verified index there first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _unsafe(member: tarfile.TarInfo, top: str | None) -> str | None:
    """Why ``member`` may not be extracted (None when it may): it must stay inside the one top-level folder
    (``unpack`` has already refused archives with several)."""
    name = member.name
    parts = PurePosixPath(name).parts
    if os.path.isabs(name):
        return "has an absolute path"
    if ".." in parts:
        return "climbs out with '..'"
    if parts == (top,) and not member.isdir():
        return "is a file where the index folder should be"
    if member.issym() or member.islnk():
        base = PurePosixPath(name).parent if member.issym() else PurePosixPath()
        resolved = os.path.normpath(str(base / member.linkname))
        if member.linkname.startswith("/") or not (resolved + "/").startswith(top + "/"):
            return f"links outside the archive ({member.linkname!r})"
    elif not (member.isfile() or member.isdir()):
        return "is a device or special file"
    return None


def unpack(tarball: str, destination: str) -> str:
    """Extract a tar.gz holding one top-level folder into ``destination``; returns that folder's path.

    Every member is checked first (absolute paths, '..', links out, devices refused with one line naming the
    member), and extraction then runs under tarfile's ``data`` filter as a second guard.
    """
    archive = os.path.basename(tarball)
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            members = [m for m in tar.getmembers() if PurePosixPath(m.name).parts]  # "." is the root itself
            tops = {PurePosixPath(m.name).parts[0] for m in members
                    if not os.path.isabs(m.name) and ".." not in PurePosixPath(m.name).parts}
            if len(tops) > 1:
                raise InputError(f"{archive}: expected one top-level folder, found {len(tops)}: refused")
            top = tops.pop() if tops else None
            for member in members:
                reason = _unsafe(member, top)
                if reason:
                    raise InputError(f"{archive}: member {member.name!r} {reason}: refused")
            if top is None:
                raise InputError(f"{archive} is empty: refused")
            os.makedirs(destination)
            tar.extractall(destination, members=members, filter="data")
    except tarfile.FilterError as e:  # the second guard caught what the checks above did not
        raise InputError(f"{archive}: {e}: refused") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(f"{archive} is not a readable tar.gz archive ({e})") from None
    return os.path.join(destination, top)


def check_index_dir(directory: str, entry: PrebuiltIndex) -> None:
    """Refuse an archive that unpacked to something other than the kind of index its entry announces."""
    from ..index.lucene import is_lucene_index

    if entry.kind == "dense":
        from ..index.dense import DenseIndex

        try:
            index = DenseIndex(directory)
            index.verify()  # files that disagree with each other would be cached as verified
        except InputError as e:
            raise InputError(f"{entry.info['filename']} does not hold a dense index ({e})") from None
        for key, found in (("documents", len(index.docids)), ("dimension", index.dimension)):
            if entry.info.get(key) is not None and found is not None and found != entry.info[key]:
                raise InputError(f"{entry.info['filename']} holds {found:,} as {key}, its entry says "
                                 f"{entry.info[key]:,}: refused")
    elif entry.kind in ("lucene-flat", "lucene-hnsw"):
        from ..index.lucene.dense import LuceneDenseIndex

        try:
            LuceneDenseIndex(directory)
        except InputError as e:
            raise InputError(f"{entry.info['filename']} does not hold a Lucene dense index ({e})") from None
    elif not is_lucene_index(directory):
        raise InputError(f"{entry.info['filename']} does not hold a Lucene index (no segments_* file)")


def pyserini_cached(entry: PrebuiltIndex) -> str | None:
    """Pyserini's unpacked copy of ``entry``, if its cache holds one of the entry's kind."""
    from .. import _pyserini

    stem = re.sub(r"\.tar\.gz.*$", "", entry.info["filename"])
    directory = os.path.join(_pyserini.pyserini_cache_home(), "indexes", f"{stem}.{entry.info['md5']}")
    if not os.path.isdir(directory):
        return None
    check_index_dir(directory, entry)  # a directory of the right name holding something else is refused
    return directory
