"""The encoder options every command shares (Pyserini's ``--encoder --encoder-class --pooling --l2-norm ...``): a
typed record, its argparse group, and the encoder it describes."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..cli import ArgumentParser, PyseriniNoOp, device, non_negative, positive, pyserini_flags, split_sections
from .families import CLASS_ALIASES, FAMILIES


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


def spaced(prefix: str) -> str:
    """A prefix flag's value as Pyserini uses it: ``f"{prefix} {text}"`` (none when empty)."""
    return f"{prefix} " if prefix else ""


def add_encoder_args(parser: argparse.ArgumentParser, *, defaults_from_index: bool = False,
                     queries_only: bool = False) -> None:
    """The encoder's flags; ``queries_only`` (search commands) makes ``--max-length`` Pyserini's query-side flag,
    which its search commands hand to its OpenAI and Qwen3 query encoders only: a no-op for every class here."""
    g = parser.add_argument_group("encoder")
    g.add_argument("--encoder", required=not defaults_from_index, help="HF model name or checkpoint directory")
    g.add_argument("--encoder-class", choices=FAMILIES + sorted(CLASS_ALIASES),
                   help="model family, Pyserini's class names among them (default: guessed from the name as "
                   "Pyserini's search.faiss guesses)")
    g.add_argument("--pooling", choices=["cls", "mean"], help="override the family's pooling")
    g.add_argument("--l2-norm", action="store_true", default=None, help="L2-normalize vectors")
    if queries_only:
        g.add_argument("--max-length", action=PyseriniNoOp, nargs=1,
                       note="Pyserini's search commands pass it to their OpenAI and Qwen3 query encoders only; the "
                       "query length here is --query-max-length")
    else:
        g.add_argument("--max-length", type=positive, help="max passage tokens (default: the family's)")
    g.add_argument("--query-max-length", type=positive, help="max query tokens (default: the family's)")
    g.add_argument("--query-prefix", type=spaced, help="text put before each query, then a space (as Pyserini's)")
    g.add_argument("--passage-prefix", type=spaced, help="text put before each passage, then a space")
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
    bfloat16 autocast (speed and closeness to float32: eval/results/encode_cpu.txt); meta.json records it.
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


def add_corpus_encoding_args(parser: argparse.ArgumentParser) -> None:
    """The corpus encoder's own flags (shards, chunks, batches, speed)."""
    parser.add_argument("--shard-id", type=non_negative, default=None)
    parser.add_argument("--shard-num", type=positive, default=None)
    parser.add_argument("--chunk-size", type=positive, default=None, help="documents per resumable chunk (16384)")
    parser.add_argument("--batch-tokens", type=positive, default=None,
                        help="token budget of one padded batch (131072 on a GPU, 2048 on a CPU)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (each batch shape compiles anew)")
    parser.add_argument("--tokenizer-processes", type=non_negative, default=None,
                        help="tokenize in N worker processes instead of a background thread (0); default: on a GPU "
                             "host of 8 cores or more, for a corpus of 1M documents or more, the cores less 4 (at "
                             "most 12), else 0 (eval/results/bench_encode.*; with (cores - 2) / N <= 4 Rust threads "
                             "each, BERT WordPiece models tokenize in Python, exactly)")
    parser.add_argument("--no-cuda-graphs", action="store_true",
                        help="run the model's forward eagerly on a GPU instead of replaying CUDA graphs")


# Pyserini's encode command: `input --corpus ... output --embeddings ... --to-faiss encoder --encoder ...`
PYSERINI_SECTIONS = ("input", "output", "encoder")
FIELDS = ("title and text go to the encoder as its class joins them", "title text")


def pyserini_section_parsers() -> dict[str, ArgumentParser]:
    """A parser for each section of Pyserini's encode command, with our flags' destinations."""
    sections = {name: ArgumentParser(prog=f"python -m pyserini_dr.encode ... {name}") for name in PYSERINI_SECTIONS}
    source = sections["input"]
    source.add_argument("--corpus", required=True, help="corpus file, or Pyserini's folder of one .jsonl file")
    source.add_argument("--shard-id", type=non_negative, default=None)
    source.add_argument("--shard-num", type=positive, default=None)
    pyserini_flags(source, refused={"--docid-field": "docids are read from _id, id or docid"},
                   only={"--fields": ((FIELDS[1],), FIELDS[0], "+"),
                         "--delimiter": (("\\n", "\n"), "fields are not split out of contents")})
    output = sections["output"]
    output.add_argument("--embeddings", dest="output", required=True, help="dense index directory to write")
    output.add_argument("--to-faiss", action="store_true", help="required: the output is a faiss index directory")
    encoder = sections["encoder"]
    add_encoder_args(encoder)
    encoder.add_argument("--prefix", dest="passage_prefix", type=spaced,
                         help="text put before each passage, then a space (a corpus without titles)")
    add_corpus_encoding_args(encoder)
    pyserini_flags(encoder, refused={"--multimodal": "multimodal encoders are not supported",
                                     "--add-sep": "the encoder class decides how title and text are joined",
                                     "--use-openai": "OpenAI embeddings are not supported",
                                     "--rate-limit": "OpenAI embeddings are not supported",
                                     "--explicit-truncate": "Qwen3 encoders are not supported"},
                   only={"--fields": ((FIELDS[1],), FIELDS[0], "+")},
                   no_op={"--batch-size": (1, "batches are made by --batch-tokens; padding is masked, so a vector "
                                           "does not depend on its batch (beyond float rounding)"),
                          "--dimension": (1, "the dimension is the model's")})
    return sections


def parse_pyserini_sections(argv: list[str], flat: argparse.ArgumentParser) -> argparse.Namespace:
    """Pyserini's ``input ... output ... encoder ...`` -> the namespace ``flat`` (our flat parser) would give."""
    from ..errors import InputError

    parts = split_sections(argv, PYSERINI_SECTIONS, PYSERINI_SECTIONS, "input ... output ... encoder ...")
    args = flat.parse_args(["--corpus", "-", "--output", "-", "--encoder", "-"])  # our defaults
    for name, parser in pyserini_section_parsers().items():
        parser.parse_args(parts[name], namespace=args)
    # Pyserini's default --fields (either section): the text field alone reaches its encoder
    args.pyserini_text_only = "--fields" not in parts["input"] or "--fields" not in parts["encoder"]
    args.pyserini_sections = True
    if not args.to_faiss:
        raise InputError("output --embeddings without --to-faiss (Pyserini's JSONL vectors) is not supported: "
                         "add --to-faiss (a faiss index directory)")
    return args
