"""The encoder options every command shares (Pyserini's ``--encoder --encoder-class --pooling --l2-norm ...``): a
typed record, its argparse group, and the encoder it describes."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..cli import device, positive
from .families import FAMILIES


@dataclass
class EncoderOptions:
    """A query/passage encoder as a user names it; ``None`` takes the family's (or the index's) setting."""
    encoder: str | None = None
    encoder_class: str | None = None
    pooling: str | None = None
    l2_norm: bool | None = None
    max_length: int | None = None
    query_max_length: int | None = None
    query_prefix: str | None = None
    passage_prefix: str | None = None
    device: str | None = None
    fp16: bool = False
    bf16: bool = False
    fp32: bool = False

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bf16 else "float16" if self.fp16 else "float32"

    @property
    def precision_given(self) -> bool:
        return self.bf16 or self.fp16 or self.fp32

    def overrides(self) -> dict:
        """The settings the options override (EncoderSettings' names)."""
        return dict(pooling=self.pooling, l2_norm=self.l2_norm, passage_max_length=self.max_length,
                    query_max_length=self.query_max_length, query_prefix=self.query_prefix,
                    passage_prefix=self.passage_prefix)


def encoder_flags_given(namespace) -> list[str]:
    """The encoder flags set on a command line (for commands where they apply to one mode only)."""
    from dataclasses import fields

    return [f"--{f.name.replace('_', '-')}" for f in fields(EncoderOptions)
            if getattr(namespace, f.name, None) not in (None, False)]


def add_encoder_args(parser: argparse.ArgumentParser, *, defaults_from_index: bool = False) -> None:
    g = parser.add_argument_group("encoder")
    g.add_argument("--encoder", required=not defaults_from_index, help="HF model name or checkpoint directory")
    g.add_argument("--encoder-class", choices=FAMILIES, help="model family (default: guessed from the name)")
    g.add_argument("--pooling", choices=["cls", "mean"], help="override the family's pooling")
    g.add_argument("--l2-norm", action="store_true", default=None, help="L2-normalize vectors")
    g.add_argument("--max-length", type=positive, help="max passage tokens (default: the family's)")
    g.add_argument("--query-max-length", type=positive, help="max query tokens (default: the family's)")
    g.add_argument("--query-prefix", help="text put before each query")
    g.add_argument("--passage-prefix", help="text put before each passage")
    g.add_argument("--device", type=device, default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    g.add_argument("--fp16", action="store_true", help="half precision on the GPU")
    g.add_argument("--bf16", action="store_true", help="bfloat16 (on a CPU: bfloat16 autocast)")
    g.add_argument("--fp32", action="store_true",
                   help="float32 throughout (corpus encoding on a CPU with bfloat16 instructions defaults to "
                   "bfloat16 autocast)")


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo (False elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_encoder(options: EncoderOptions, model: str | None = None, settings=None, *, corpus: bool = False):
    """The DenseEncoder ``options`` describe, for ``model`` (default: ``options.encoder``); with ``settings`` (an
    index's recorded EncoderSettings), the options override those instead of the family's.

    ``corpus``: for encoding a corpus, where no precision flag is given, a CPU with bfloat16 instructions runs in
    bfloat16 autocast (2.1x float32 for MiniLM on this project's machine, cosine >= 0.99997); meta.json records it.
    Queries stay float32 unless a flag says otherwise: they are few."""
    import torch

    from .encoder import DenseEncoder

    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if corpus and not options.precision_given and device == "cpu" and cpu_has_bf16():
        from dataclasses import replace

        options = replace(options, bf16=True)
    overrides = options.overrides()
    if settings is not None:
        settings = settings.with_overrides(**overrides)
    encoder = DenseEncoder(model or options.encoder, settings, encoder_class=options.encoder_class, device=device,
                           dtype=options.dtype, **({} if settings is not None else overrides))
    encoder.check_lengths(passage=options.max_length, query=options.query_max_length)
    return encoder
