"""Dense search options (Pyserini's ``--index --encoder ... --threads``, and our backends'): typed records, their
flags, and the searcher they describe. Encoder settings default to those the index's meta.json records."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ...cli import positive, pyserini_flags
from ...encode.settings import EncoderSettings
from ...encode.options import EncoderOptions, add_encoder_args, build_encoder
from ...errors import InputError
from ...index.lucene.dense import LuceneDenseIndex
from ...index.vector_index import open_vector_index
from ...prebuilt import resolve_index
from ...prebuilt.registry import VECTOR_KINDS
from . import BACKENDS, DenseSearcher


@dataclass
class DenseSearchOptions:
    index: str
    backend: str = "auto"
    threads: int | None = None
    ef_search: int | None = None
    nprobe: int | None = None
    fp8_select: bool = False


PRF = "dense pseudo-relevance feedback is not implemented"
# Pyserini's define_dsearch_args flags (search.faiss, and search.hybrid's dense section) we refuse
PYSERINI_DENSE_FLAGS = dict(
    refused={"--instruction-config": "UniIR instructions are not supported",
             "--multimodal": "multimodal encoders are not supported",
             "--tokenizer": "the query tokenizer is the encoder's own",
             "--encoded-queries": "pre-encoded queries are not read: give --encoder",
             "--pca-model": "PCA-reduced query vectors are not supported",
             **dict.fromkeys(["--prf-method", "--rocchio-alpha", "--rocchio-beta", "--rocchio-gamma", "--rocchio-topk",
                              "--rocchio-bottomk", "--sparse-index", "--ance-prf-encoder"], PRF),
             "--faiss-device": "pick the search device with --backend (torch on a GPU)"},
    only={"--searcher": (("simple",), "BPR binary search is not supported"), "--prf-depth": (("0",), PRF)})


def add_dense_args(parser: argparse.ArgumentParser, *, search_flags: bool = True) -> None:
    """``--index`` and the encoder's flags; with ``search_flags``, the backend's too (and Pyserini's dense flags we
    refuse)."""
    parser.add_argument("--index", required=True, help="dense index directory or prebuilt name")
    add_encoder_args(parser, defaults_from_index=True, queries_only=search_flags)
    if not search_flags:
        return
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--threads", type=positive, default=None, help="faiss CPU threads")
    parser.add_argument("--ef-search", type=positive, default=None, help="HNSW efSearch")
    parser.add_argument("--nprobe", type=positive, default=None, help="IVF lists probed")
    parser.add_argument("--fp8-select", action="store_true",
                        help="torch backend on an H100-class GPU: candidates picked from float8 scores (approximate: "
                        "check the overlap on your index), then float32 re-scoring")
    pyserini_flags(parser, **PYSERINI_DENSE_FLAGS)


def load_index_and_encoder(index: str, options: EncoderOptions):
    """(index, query encoder) for ``index`` (a directory or a prebuilt name; a faiss or a Lucene dense index): the
    encoder the index records, unless ``options`` name another model or class; flags override the recorded
    settings."""
    dense = open_vector_index(resolve_index(index, VECTOR_KINDS))
    saved = dense.meta.get("encoder")
    model = options.encoder or (saved or {}).get("model")
    if not model:
        raise InputError(f"{index} records no encoder: give --encoder")
    settings = None
    if saved and not options.encoder_class and (options.encoder is None or options.encoder == saved.get("model")):
        settings = EncoderSettings.from_dict(saved)
    return dense, build_encoder(options, model, settings)


def dense_searcher(search: DenseSearchOptions, encoder_options: EncoderOptions):
    """A DenseSearcher (faiss or torch) or, for a Lucene dense index, a LuceneDenseSearcher."""
    index, encoder = load_index_and_encoder(search.index, encoder_options)
    if isinstance(index, LuceneDenseIndex):
        from ..lucene.dense import LuceneDenseSearcher

        if search.backend != "auto" or search.nprobe or search.fp8_select:
            raise InputError(f"{search.index} is a Lucene dense index: --backend, --nprobe and --fp8-select do not "
                             "apply (Anserini searches it)")
        return LuceneDenseSearcher(index, encoder, ef_search=search.ef_search or 100, threads=search.threads or 1)
    return DenseSearcher(index, encoder, backend=search.backend, device=str(encoder.device), threads=search.threads,
                         dtype="bfloat16" if encoder_options.bf16 else "float16", ef_search=search.ef_search,
                         nprobe=search.nprobe, fp8_select=search.fp8_select)
