"""Long texts cut at a word boundary before tokenization: exact, and the tokenizer reads a fraction of the text.

Both tokenizer paths cut the same way (``PassageTokenizer``'s Rust tokenizer through ``encode_clipped``,
``AsciiWordPiece`` through ``clip_text``).
"""
from __future__ import annotations

# Characters kept per allowed token when a long text is clipped before tokenization. English and scientific text
# runs 4-6 characters a word piece; a clipped text that still fills max_length gives exactly the full text's ids.
CLIP_CHARS_PER_TOKEN = 6


def encode_clipped(tok, texts: list[str], max_length: int) -> list:
    """``tok.encode_batch_fast(texts)`` with each long text cut, at the last whitespace before
    ``CLIP_CHARS_PER_TOKEN x max_length`` characters, before tokenization.

    Exact: normalization and whitespace pre-tokenization are local, so a text cut between words tokenizes to a
    prefix of the full text's pieces; when that prefix still reaches ``max_length`` ids, truncation keeps the same
    ids as it would from the full text. The few cut texts that fall short are tokenized again whole. The cut is
    at a single space between two non-space characters: inside a longer run of whitespace, byte-level BPE would end
    the clipped text on a shorter whitespace piece than the full text has.
    """
    limit = CLIP_CHARS_PER_TOKEN * max_length
    clipped, cut = [], []
    for i, text in enumerate(texts):
        clipped.append(clip_text(text, limit))
        if clipped[-1] is not text:
            cut.append(i)
    encodings = tok.encode_batch_fast(clipped)
    short = [i for i in cut if len(encodings[i].ids) < max_length]
    for i, full in zip(short, tok.encode_batch_fast([texts[i] for i in short]) if short else []):
        encodings[i] = full
    return encodings


def clip_text(text: str, limit: int | None) -> str:
    """``text`` cut where ``encode_clipped`` cuts it (the same object where it is not cut)."""
    if limit is not None and len(text) > limit:
        end = _word_boundary(text, limit)
        if end > 0:
            return text[:end]
    return text


def _word_boundary(text: str, limit: int) -> int:
    """The last position before ``limit`` of a space with non-whitespace on both sides, or -1."""
    end = text.rfind(" ", 0, limit)
    while end > 0 and (text[end - 1].isspace() or text[end + 1].isspace()):
        end = text.rfind(" ", 0, end)
    return end
