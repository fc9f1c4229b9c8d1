"""Line iteration with file:line positions for error messages."""
from __future__ import annotations

import gzip
import json
import os
import zlib
from typing import Iterator

from ..errors import InputError, where


def numbered_lines(path, blank: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) for each non-blank line, or each line with ``blank``."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a file to read")
    if not os.path.isfile(path):
        raise InputError(f"no such file: {path}")
    opener = gzip.open if path.endswith(".gz") else open
    no = 0
    with opener(path, "rb") as f:  # decoded line by line, so a bad byte is reported on its own line
        raws = iter(f)
        while True:
            try:
                raw = next(raws, None)
            except (EOFError, gzip.BadGzipFile, zlib.error) as e:  # a truncated download, or no gzip at all
                raise InputError(f"{where(path, no + 1)}: not a complete gzip file ({e})") from None
            if raw is None:
                return
            no += 1
            try:
                line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
            except UnicodeDecodeError:
                raise InputError(f"{where(path, no)}: not UTF-8 text") from None
            if blank or line.strip():
                yield no, line


def json_lines(path) -> Iterator[tuple[int, dict]]:
    for no, line in numbered_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where(path, no)}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where(path, no)}: expected a JSON object, found {type(obj).__name__}")
        yield no, obj


def is_jsonl(path) -> bool:
    p = os.fspath(path)
    return p.endswith((".jsonl", ".jsonl.gz", ".json"))
