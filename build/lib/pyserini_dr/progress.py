"""Progress bars for long jobs (tqdm on stderr)."""
from __future__ import annotations

import os


def progress(iterable=None, **kwargs):
    """tqdm on stderr, quiet when ``PYSERINI_DR_QUIET`` is set (tests) ."""
    from tqdm import tqdm

    kwargs.setdefault("disable", bool(os.environ.get("PYSERINI_DR_QUIET")))
    kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)
