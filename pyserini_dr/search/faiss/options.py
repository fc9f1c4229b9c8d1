"""Dense search options (Pyserini's ``--index --encoder ... --threads``, and our backends'): typed records, their
flags, and the searcher they describe. Encoder settings default to those the index's meta.json records."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ...cli import positive
from ...encode.settings import EncoderSettings
from ...encode.options import EncoderOptions, add_encoder_args, build_encoder
from ...errors import InputError
from ...index.dense import DenseIndex
from ...prebuilt import resolve_index
from . import BACKENDS, DenseSearcher


@dataclass
class DenseSearchOptions:
    index: str
    backend: str = "auto"
    threads: int | None = None
    ef_search: int | None = None
    nprobe: int | None = None
    fp8_select: bool = False


def add_dense_args(parser: argparse.ArgumentParser, *, search_flags: bool = True) -> None:
    """``--index`` and the encoder's flags; with ``search_flags``, the backend's too."""
    parser.add_argument("--index", required=True, help="dense index directory or prebuilt name")
    add_encoder_args(parser, defaults_from_index=True)
    if not search_flags:
        return
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--threads", type=positive, default=None, help="faiss CPU threads")
    parser.add_argument("--ef-search", type=positive, default=None, help="HNSW efSearch")
    parser.add_argument("--nprobe", type=positive, default=None, help="IVF lists probed")
    parser.add_argument("--fp8-select", action="store_true",
                        help="torch backend on an H100-class GPU: candidates picked from float8 scores (approximate: "
                        "check the overlap on your index), then float32 re-scoring")


def load_index_and_encoder(index: str, options: EncoderOptions):
    """(DenseIndex, query encoder) for ``index`` (a directory or a prebuilt name): the encoder the index records,
    unless ``options`` name another model or class; flags override the recorded settings."""
    dense = DenseIndex(resolve_index(index, "dense"))
    saved = dense.meta.get("encoder")
    model = options.encoder or (saved or {}).get("model")
    if not model:
        raise InputError(f"{index} records no encoder: give --encoder")
    settings = None
    if saved and not options.encoder_class and (options.encoder is None or options.encoder == saved.get("model")):
        settings = EncoderSettings.from_dict(saved)
    return dense, build_encoder(options, model, settings)


def dense_searcher(search: DenseSearchOptions, encoder_options: EncoderOptions) -> DenseSearcher:
    index, encoder = load_index_and_encoder(search.index, encoder_options)
    return DenseSearcher(index, encoder, backend=search.backend, device=str(encoder.device), threads=search.threads,
                         dtype="bfloat16" if encoder_options.bf16 else "float16", ef_search=search.ef_search,
                         nprobe=search.nprobe, fp8_select=search.fp8_select)
