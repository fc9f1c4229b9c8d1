"""BM25 search options (Pyserini's ``--index --k1 --b --fields``): a typed record, its flags, its searcher."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ...cli import fraction, non_negative_real
from ...errors import InputError
from ...prebuilt import resolve_index
from . import BM25Searcher


@dataclass
class BM25Options:
    index: str
    k1: float = 0.9
    b: float = 0.4
    fields: list[str] | None = None   # name=boost pairs, as typed


def add_bm25_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="Lucene index directory or prebuilt name")
    parser.add_argument("--k1", type=non_negative_real, default=0.9)
    parser.add_argument("--b", type=fraction, default=0.4)
    parser.add_argument("--fields", nargs="+", help="multifield boosts, e.g. contents=1.0 title=1.0")


def parse_fields(items: list[str] | None) -> dict[str, float]:
    fields = {}
    for item in items or []:
        name, _, boost = item.partition("=")
        try:
            fields[name] = float(boost or 1.0)
        except ValueError:
            raise InputError(f"--fields takes name=boost pairs, got {item!r}") from None
    return fields


def bm25_searcher(options: BM25Options) -> BM25Searcher:
    """The BM25Searcher of ``options.index`` (a directory or a prebuilt name)."""
    return BM25Searcher(resolve_index(options.index, "lucene"), options.k1, options.b, parse_fields(options.fields))
