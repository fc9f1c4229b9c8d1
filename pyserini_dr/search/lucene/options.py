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
    k1: float | None = None   # None: Pyserini's choice for the index name (0.9 unless MS MARCO's), as b
    b: float | None = None
    fields: list[str] | None = None   # name=boost pairs, as typed


def add_bm25_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="Lucene index directory or prebuilt name")
    parser.add_argument("--k1", type=non_negative_real, default=None, help="BM25 k1 (0.9; Pyserini's tuned values "
                        "for MS MARCO prebuilt names)")
    parser.add_argument("--b", type=fraction, default=None, help="BM25 b (0.4; as --k1)")
    parser.add_argument("--fields", nargs="+", help="multifield boosts, e.g. contents=1.0 title=1.0")


# Pyserini's search.lucene sets these (k1, b) when neither --k1 nor --b is given (set_bm25_parameters)
PYSERINI_BM25_DEFAULTS = {
    **dict.fromkeys(["msmarco-v1-passage", "msmarco-v1-passage-slim", "msmarco-v1-passage-full", "msmarco-passage"],
                    (0.82, 0.68)),
    **dict.fromkeys(["msmarco-v1-passage.d2q-t5", "msmarco-v1-passage.d2q-t5-docvectors",
                     "msmarco-v1-passage-d2q-t5"], (2.18, 0.86)),
    **dict.fromkeys(["msmarco-v1-doc", "msmarco-v1-doc-slim", "msmarco-v1-doc-full"], (4.46, 0.82)),
    **dict.fromkeys(["msmarco-v1-doc-segmented", "msmarco-v1-doc-segmented-slim", "msmarco-v1-doc-segmented-full"],
                    (2.16, 0.61)),
    **dict.fromkeys(["msmarco-v1-doc.d2q-t5", "msmarco-v1-doc.d2q-t5-docvectors"], (4.68, 0.87)),
    **dict.fromkeys(["msmarco-v1-doc-segmented.d2q-t5", "msmarco-v1-doc-segmented.d2q-t5-docvectors"], (2.56, 0.59)),
}


def bm25_parameters(options: BM25Options) -> tuple[float, float]:
    """(k1, b): as given; where neither is, Pyserini's for the index name, else 0.9 and 0.4."""
    if options.k1 is None and options.b is None:
        return PYSERINI_BM25_DEFAULTS.get(options.index, (0.9, 0.4))
    return (0.9 if options.k1 is None else options.k1), (0.4 if options.b is None else options.b)


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
    k1, b = bm25_parameters(options)
    return BM25Searcher(resolve_index(options.index, "lucene"), k1, b, parse_fields(options.fields))


# Pyserini's search.lucene flags we refuse (and the hybrid command's sparse section, which takes the same flags)
IMPACT = "impact (learned sparse) search is not supported"
PRCL = "pseudo-relevance classifier re-ranking is not implemented"
PYSERINI_LUCENE_FLAGS = dict(
    refused={"--encoded-corpus": IMPACT, "--impact": IMPACT, "--min-idf": IMPACT,
             "--onnx-encoder": "ONNX query encoders are not run: give the Hugging Face model with --encoder",
             "--bm25qs": "query-side BM25 is not implemented", "--rm3": "RM3 query expansion is not implemented",
             "--rocchio": "Rocchio query expansion is not implemented",
             "--rocchio-use-negative": "Rocchio query expansion is not implemented",
             "--qld": "query likelihood ranking is not implemented",
             "--pretokenized": "pre-tokenized topics (whitespace analyzer) are not supported",
             "--prcl": PRCL, "--prcl.vectorizer": PRCL, "--prcl.r": PRCL, "--prcl.n": PRCL, "--prcl.alpha": PRCL,
             "--dismax": "disjunction-max queries are not implemented",
             "--dismax.tiebreaker": "disjunction-max queries are not implemented",
             "--stopwords": "custom stopwords are not supported",
             "--tokenizer": "Hugging Face tokenization of topics is not supported"},
    only={"--language": (("en",), "only English analysis")})
