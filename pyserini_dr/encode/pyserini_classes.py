"""Our encoder families as Pyserini 1.6's query encoders: the ``python -m pyserini.search.faiss`` flags that encode
queries the way an index of ours was encoded, and what Pyserini cannot match.

Pyserini ignores our meta.json: without these flags its search falls back to CLS pooling and no normalization,
which silently scores a mean-pooled, normalized index lower (Cranfield MiniLM: nDCG@10 0.2803 instead of 0.3817).
Pyserini's classes followed here (pyserini/search/faiss/__main__.py ``init_query_encoder``, pyserini/encode):
``auto`` (AutoQueryEncoder: --pooling, --l2-norm, --query-prefix joined with a space) and ``ance``
(AnceQueryEncoder: RoBERTa with the ANCE head, queries cut at 64 tokens).
"""
from __future__ import annotations

from .settings import EncoderSettings

PYSERINI_MAX_LENGTH = 256   # search.faiss's --max-length default
ANCE_QUERY_LENGTH = 64      # AnceQueryEncoder.encode's max_length


def pyserini_query_flags(settings: EncoderSettings) -> tuple[list[str], list[str]]:
    """(flags, caveats): Pyserini's search.faiss flags for queries encoded as ``settings`` say, and each way in which
    Pyserini's encoding still differs from ours."""
    caveats = []
    if settings.head == "linear-layernorm":
        flags = ["--encoder-class", "ance"]
        if settings.query_max_length != ANCE_QUERY_LENGTH:
            caveats.append(f"Pyserini's AnceQueryEncoder cuts queries at {ANCE_QUERY_LENGTH} tokens; this index's "
                           f"queries take {settings.query_max_length}")
    else:
        flags = ["--encoder-class", "auto", "--pooling", settings.pooling]
        if settings.l2_norm:
            flags.append("--l2-norm")
        if settings.query_max_length != PYSERINI_MAX_LENGTH:  # search.faiss hands --max-length to OpenAI and Qwen3
            caveats.append(f"Pyserini's AutoQueryEncoder cuts a query only at the model's limit (search.faiss "
                           f"passes --max-length to its OpenAI and Qwen3 encoders only); ours at "
                           f"{settings.query_max_length} tokens, so a longer query differs")
    if settings.query_prefix:
        flags += ["--query-prefix", settings.query_prefix.rstrip(" ")]
        if not settings.query_prefix.endswith(" "):
            caveats.append(f"Pyserini puts a space between the prefix and the query; ours is {settings.query_prefix!r}")
    if settings.drhard_text:
        caveats.append("DRhard's tokenizer put a space before a query's first word (star_tokenizer.py); Pyserini's "
                       "encoders do not, so the first token differs")
    if settings.lowercase and settings.head != "linear-layernorm":
        caveats.append("this family lowercases queries; Pyserini's AutoQueryEncoder leaves that to the tokenizer")
    return flags, caveats


def pyserini_name_settings(model: str) -> dict:
    """Pyserini's guess from a model name alone (``init_query_encoder``): "sentence" in it means mean pooling and
    L2 normalization, "contriever" mean pooling; taken only where the model's own config cannot be read."""
    if "sentence" in model:
        return {"pooling": "mean", "l2_norm": True}
    if "contriever" in model:
        return {"pooling": "mean", "l2_norm": False}
    return {}
