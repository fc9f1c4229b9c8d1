"""The published dense retrievers' conventions, one preset per family, and pyserini-style class guessing.

Each preset follows the model's own paper and inference code:
- tasb:  DistilBERT, [CLS], dot product, no normalization; query 30 / passage 200 tokens as trained
         (Hofstätter et al. 2021; matchmaker's distilbert-dot-tas_b-b256-msmarco config).
- ance:  RoBERTa + Linear + LayerNorm on the first token, dot product; query 64 / passage 512, lowercased
         (Xiong et al. 2021; pyserini's AnceEncoder and the script that built its MS MARCO index).
- star:  DRhard's RobertaDot (same head as ANCE), lowercased; query 32 (star/inference.py) / passage 256 (the
         passage command of DRhard's README.md: star/inference.py --max_doc_length 256); text as DRhard's
         transformers-2.x RobertaTokenizer saw it (star_tokenizer.py: a space before the first word; ``drhard_text``).
- adore: a RobertaDot query encoder (query 64, adore/inference.py) searched against STAR's passage vectors
         (256 tokens, as STAR's); DRhard's text handling as STAR.
- simlm: BERT [CLS], L2-normalized; query 32 / passage 144, passage = tokenizer(title, passage) pair with
         "-" for a missing title (Wang et al. 2022; unilm/simlm encode code and model card).
- pair:  ERNIE-base converted to BERT, [CLS], dot product; query 32 / passage 128, passage = (title, para)
         pair, empty title kept (Ren et al. 2021; RocketQA's reader_de_predict and de scripts).
- auto:  any HF or sentence-transformers model; a sentence-transformers model's pooling, normalization and
         max length are read from its own config (a directory's or, by hub id, the Hugging Face cache's); otherwise
         --pooling/--l2-norm as in pyserini (CLS, no norm).

Pyserini 1.6's other text encoder classes, each following its file in pyserini/encode/ (``pyserini_classes.py``
says more, and what Pyserini's encode / search.faiss commands pass them): dpr, bpr, dkrr, tct_colbert, sentence,
contriever, aggretriever, cosdpr, arctic.
"""
from __future__ import annotations

import contextlib
import os
import re

from ..errors import InputError
from ..index.dense import META_FILE
from .pyserini_classes import PYSERINI_PRESETS, pyserini_class_keyword, pyserini_name_settings
from .settings import EncoderSettings, saved_settings, sentence_transformers_settings

PRESETS: dict[str, EncoderSettings] = {
    "auto": EncoderSettings(),
    "tasb": EncoderSettings("tasb", "cls", False, "none", 30, 200, "concat"),
    "ance": EncoderSettings("ance", "cls", False, "linear-layernorm", 64, 512, "concat", lowercase=True),
    "star": EncoderSettings("star", "cls", False, "linear-layernorm", 32, 256, "concat", lowercase=True,
                            drhard_text=True),
    "adore": EncoderSettings("adore", "cls", False, "linear-layernorm", 64, 256, "concat", lowercase=True,
                             drhard_text=True),
    "simlm": EncoderSettings("simlm", "cls", True, "none", 32, 144, "pair", empty_title="-"),
    "pair": EncoderSettings("pair", "cls", False, "none", 32, 128, "pair"),
    **PYSERINI_PRESETS,
}
FAMILIES = sorted(PRESETS)
CLASS_ALIASES = {"sentence-transformers": "sentence"}  # Pyserini's encode command's name for its search's "sentence"

# Families whose passage vectors another family's queries may search (ADORE queries over a STAR index; Pyserini's
# AutoQueryEncoder classes over each other's indexes, where pooling and normalization agree)
_AUTO_LIKE = {"auto", "sentence", "contriever"}
COMPATIBLE_PASSAGES = {"adore": {"star", "adore"}, **{f: _AUTO_LIKE for f in _AUTO_LIKE}}

_NAME_PATTERNS = [  # our seed families, checked in order on the lowercased model name after Pyserini's keywords
    ("tasb", r"tas[-_]?b"), ("adore", r"adore"), ("star", r"(^|[^a-z])star([^a-z]|$)"),
    ("simlm", r"simlm"), ("pair", r"(^|[^a-z])pair([^a-z]|$)"), ("ance", r"(^|[^a-z])ance([^a-z]|$)"),
]


def guess_family(model: str) -> str:
    """The family a model name suggests: first Pyserini's rule (``pyserini_class_keyword``: the first of
    search.faiss's class keywords in the lowercased name, as a plain substring), then our seed families' patterns
    on the last two path components (so a local path's parents don't count), else ``auto``.

    Pyserini tests a hub id whole; for a local directory only its own name is tested, not its parents'."""
    model = os.fspath(model).rstrip("/")
    local = os.path.isdir(model) or os.path.isabs(model) or model.startswith((".", "~")) or model.count("/") > 1
    keyword = pyserini_class_keyword(model.split("/")[-1] if local else model)
    if keyword is not None:
        return keyword
    name = "/".join(model.split("/")[-2:]).lower()
    for family, pattern in _NAME_PATTERNS:
        if re.search(pattern, name):
            return family
    return "auto"


TOWER_DIRS = ("query_encoder", "passage_encoder")  # a checkpoint with separate towers keeps one in each


def check_model_location(model: str) -> None:
    """Refuses a local model path that is no directory, where Hugging Face would call it a malformed hub name, and a
    directory without a model's config.json, where it would fail deep inside its tokenizer loading."""
    if os.path.isdir(model):
        if not any(os.path.isfile(os.path.join(model, *sub, "config.json")) for sub in ((), *((t,) for t in
                                                                                           TOWER_DIRS))):
            raise InputError(f"{model} is no model directory: it has no config.json")
        return
    if os.path.exists(model):
        raise InputError(f"{model} is a file: give the model's directory")
    if os.path.isabs(model) or model.startswith((".", "~")) or model.count("/") > 1:  # no hub name looks so
        raise InputError(f"no such model directory: {model}")


@contextlib.contextmanager
def reading_checkpoint(model: str):
    """Turns the errors of a checkpoint that cannot be read (truncated or corrupt weights, a malformed config or
    tokenizer file) into one InputError: they surface as OSError, ValueError or safetensors' own error type."""
    try:
        yield
    except InputError:
        raise
    except (OSError, ValueError, RuntimeError, EOFError) as e:
        raise InputError(f"cannot read the model in {model}: {_first_line(e)}") from None
    except Exception as e:  # safetensors_rust.SafetensorError derives from Exception alone
        if type(e).__name__ != "SafetensorError":
            raise
        raise InputError(f"cannot read the model in {model}: {_first_line(e)} (truncated weights?)") from None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def max_positions(config) -> int | None:
    """Tokens a model's position embeddings cover (RoBERTa's first two positions are taken by its padding
    offset), or None where the config records no limit."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or positions <= 0:
        return None
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        positions -= (getattr(config, "pad_token_id", 1) or 0) + 1
    return positions


def check_lengths(model: str, config, lengths: dict[str, int | None]) -> None:
    """Refuses a token length (flag -> value) beyond the model's positions: a longer input would index past its
    position embeddings (an IndexError deep in the model) or never be reached."""
    limit = max_positions(config)
    for flag, value in lengths.items():
        if limit is not None and value is not None and value > limit:
            raise InputError(f"{flag} {value} is beyond the {limit} positions of {model}")


def resolve_settings(model: str, encoder_class: str | None = None, **overrides) -> EncoderSettings:
    """Settings for ``model``: a checkpoint's saved settings, else the family preset (``encoder_class`` or guessed),
    with a sentence-transformers directory's own config for ``auto``; explicit ``overrides`` (non-None) win."""
    model = os.fspath(model)
    check_model_location(model)
    encoder_class = CLASS_ALIASES.get(encoder_class, encoder_class)
    if encoder_class is not None and encoder_class not in PRESETS:
        raise InputError(f"unknown encoder class {encoder_class!r} (one of {', '.join(FAMILIES)})")
    settings = saved_settings(model) if os.path.isdir(model) else None
    if settings is None or (encoder_class and encoder_class != settings.family):
        family = encoder_class or guess_family(model)
        settings = PRESETS[family]
        if family in ("auto", "sentence"):  # the model's own sentence-transformers config, where it has one
            found = sentence_transformers_settings(model)
            if not found and not os.path.isdir(model):
                found = pyserini_name_settings(model)
            settings = settings.with_overrides(**found)
    return settings.with_overrides(**overrides)


def check_fits_index(index, settings: EncoderSettings, dimension: int) -> None:
    """Refuse a query encoder that contradicts how a dense index's passages were encoded (its meta.json)."""
    where = f"{index.directory}/{META_FILE}"
    if index.dimension and dimension != index.dimension:
        raise InputError(f"encoder dimension {dimension} does not match the index's {index.dimension} ({where})")
    saved = index.meta.get("encoder")
    if not saved:
        return
    for key in ("pooling", "l2_norm", "head"):
        if saved.get(key) is not None and saved[key] != getattr(settings, key):
            raise InputError(f"encoder {key} {getattr(settings, key)!r} contradicts the index's {saved[key]!r} "
                             f"({where}); drop the flag or use a matching index")
    family = saved.get("family")
    if family and settings.family != family and family not in COMPATIBLE_PASSAGES.get(settings.family, ()):
        raise InputError(f"encoder class {settings.family!r} cannot search passages encoded as {family!r}")
