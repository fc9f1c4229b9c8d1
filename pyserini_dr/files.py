"""Outputs that appear only when complete: a crash or an error never leaves a half-written file or directory where
a good one was."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block finishes.

    A crash or an error leaves the old file (if any) untouched and no half-written file behind.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a file to write")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"cannot write {path}: {directory} is not a directory")
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the finished file gets the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """Open a file for writing that appears at ``path`` only once it is complete."""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=None if "b" in mode else "utf-8") as f:
        yield f


def refuse_foreign_directory(directory: str, ours: tuple[str, ...] = (), flag: str = "--output") -> None:
    """Refuse to write into ``directory`` unless it is new, empty, or holds one of ``ours`` (the entries by which
    an earlier run of the same command marks it as its own): a command never writes into, or replaces, a
    directory it did not create (an index, a model, a user's folder)."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"{directory} is a file, not a directory to write")
    if not os.path.isdir(directory) or not os.listdir(directory):
        return
    if any(os.path.lexists(os.path.join(directory, name)) for name in ours):
        return
    raise InputError(f"{directory} exists and is not empty (not written by this command): remove it or pick "
                     f"another {flag}")


@contextlib.contextmanager
def atomic_directory(final: str) -> Iterator[str]:
    """A fresh ``final + '.saving'`` folder to write into, put at ``final`` (``replace_directory``) once the block
    ends without an error: an error or a crash while writing leaves the old directory (an error removes the
    unfinished folder too)."""
    with _saving_folder(final) as tmp:
        yield tmp
    replace_directory(tmp, final)


@contextlib.contextmanager
def _saving_folder(final: str) -> Iterator[str]:
    """A fresh, empty ``final + '.saving'``, removed if the block raises."""
    if os.path.exists(final) and not os.path.isdir(final):  # found before writing, not when renaming at the end
        raise InputError(f"{final} is a file, not a directory to write")
    tmp = final.rstrip("/") + ".saving"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # an error while writing leaves nothing half-written behind
        raise


@contextlib.contextmanager
def staged_directory(final: str, last: str) -> Iterator[str]:
    """A fresh ``final + '.saving'`` folder to write into, whose files are moved into ``final`` (made if needed,
    its other entries kept) once the block ends without an error, ``last`` (the file marking it complete) last.
    An error removes the folder: nothing half-written appears in ``final``. For a ``final`` that may hold entries
    of its own (a torchrun output's ``shards/``), where ``atomic_directory`` would replace them."""
    with _saving_folder(final) as tmp:
        yield tmp
    os.makedirs(final, exist_ok=True)
    for name in sorted(os.listdir(tmp), key=lambda n: n == last):
        os.replace(os.path.join(tmp, name), os.path.join(final, name))
    os.rmdir(tmp)


def replace_directory(tmp: str, final: str) -> None:
    """Put the finished directory ``tmp`` at ``final``; the old one is moved aside first and removed last, so a
    crash at any point leaves a complete directory at ``final`` or at ``final + '.old'``."""
    old = final.rstrip("/") + ".old"
    if os.path.isdir(final):
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
