"""BERT's WordPiece tokenization of ASCII text, exact and several times cheaper than the Rust tokenizer per core.

After BERT's normalizer, an ASCII text holds printable characters and single spaces only; BertPreTokenizer then
splits it into runs of letters and digits and single punctuation characters (every other printable ASCII character
is punctuation to BERT), and WordPiece maps each piece on its own, greedily longest-first. So a text's ids are its
words' ids, looked up in a cache filled from the vocabulary, in order. The Rust tokenizer spends most of its time on
per-character bookkeeping (alignments for offsets) that encoding never reads.

Used by ``PassageTokenizer`` for ASCII texts it has normalized and for the ASCII stretches of other texts; it leaves
to the Rust tokenizer any text that could take another path there (an added token such as "[SEP]" written in the
text), and ``from_spec`` accepts only the exact pipeline described here.
"""
from __future__ import annotations

import re
from itertools import chain

import numpy as np

from .clip import clip_text

# BertPreTokenizer on normalized ASCII: letter/digit runs, and each other non-space character alone
_WORDS = re.compile(r"[A-Za-z0-9]+|[^ A-Za-z0-9]")
# words a cache holds beyond the vocabulary's before it starts anew (some tens of MB)
CACHE_WORDS = 200_000


def _special_ids(processor: dict | None) -> tuple[list[int], list[int]] | None:
    """The ids a single-sequence post-processor puts before and after the text, for the two forms BERT checkpoints
    use (TemplateProcessing ``[CLS] $A [SEP]``-like, BertProcessing); None for any other."""
    if not processor:
        return None
    if processor.get("type") == "BertProcessing":
        return [processor["cls"][1]], [processor["sep"][1]]
    if processor.get("type") != "TemplateProcessing":
        return None
    items, specials = processor.get("single") or [], processor.get("special_tokens") or {}
    sequence = [i for i, item in enumerate(items) if "Sequence" in item]
    if len(sequence) != 1 or any("SpecialToken" not in item for i, item in enumerate(items) if i != sequence[0]):
        return None
    try:
        ids = [specials[item["SpecialToken"]["id"]]["ids"] for item in items if "SpecialToken" in item]
    except KeyError:
        return None
    cut = sequence[0]
    return [i for x in ids[:cut] for i in x], [i for x in ids[cut:] for i in x]


class AsciiWordPiece:
    def __init__(self, vocab: dict[str, int], unk_id: int, prefix: str, max_word_chars: int, head: list[int],
                 tail: list[int], max_length: int):
        self.vocab, self.unk_id, self.prefix, self.max_word_chars = vocab, unk_id, prefix, max_word_chars
        self.head, self.tail = head, tail
        self.limit = max_length - len(head) - len(tail)  # longest_first truncation of one text keeps this many
        self.whole_words = {w: (i,) for w, i in vocab.items() if not w.startswith(prefix)}
        self._cache = None

    @classmethod
    def from_spec(cls, spec: dict, max_length: int) -> "AsciiWordPiece | None":
        """For a tokenizer.json (as a dict) with BERT's normalizer, pre-tokenizer, WordPiece model and a [CLS]/[SEP]
        post-processor; None for any other pipeline, or a max_length that leaves no room for text."""
        model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
        # without clean_text, tabs, newlines and control characters would reach the pre-tokenizer
        if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer" \
                or not normalizer.get("clean_text", True) \
                or (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer":
            return None
        specials = _special_ids(spec.get("post_processor"))
        vocab = model.get("vocab") or {}
        unk = vocab.get(model.get("unk_token", "[UNK]"))
        if specials is None or unk is None or max_length <= len(specials[0]) + len(specials[1]):
            return None
        return cls(vocab, unk, model.get("continuing_subword_prefix", "##"), model.get("max_input_chars_per_word", 100),
                   *specials, max_length)

    def _pieces(self, word: str) -> tuple[int, ...]:
        """WordPiece of one word: longest vocabulary entry first, continuations with the prefix; a word with an
        unmatched rest, or longer than max_input_chars_per_word, is one unknown token."""
        if len(word) > self.max_word_chars:
            return (self.unk_id,)
        pieces, start, vocab = [], 0, self.vocab
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = vocab.get(word[start:end] if start == 0 else self.prefix + word[start:end])
                if piece is not None:
                    pieces.append(piece)
                    start = end
                    break
            else:
                return (self.unk_id,)
        return tuple(pieces)

    def cache(self) -> dict:
        """Word -> ids, kept from call to call (worker tasks are calls of 128 texts: a new cache for each refilled the
        same words) and started anew from the whole-word vocabulary entries once it holds ``CACHE_WORDS`` more."""
        if self._cache is None or len(self._cache) > len(self.whole_words) + CACHE_WORDS:
            self._cache = _Cache(self._pieces, self.whole_words)
        return self._cache

    def words(self, text: str, cache: dict):
        """The ids of a normalized ASCII text's words, in order, without special tokens or truncation."""
        return chain.from_iterable(map(cache.__getitem__, _WORDS.findall(text)))

    def wrap(self, body: np.ndarray) -> np.ndarray:
        """A text's word ids truncated as the Rust tokenizer truncates one text, between the special tokens."""
        body = body[:self.limit]
        out = np.empty(len(self.head) + len(body) + len(self.tail), dtype=np.int64)
        out[:len(self.head)] = self.head
        out[len(self.head):len(self.head) + len(body)] = body
        out[len(self.head) + len(body):] = self.tail
        return out

    def ids(self, text: str, cache: dict, clip_at: int | None = None) -> np.ndarray:
        """The ids of a normalized ASCII text, special tokens included, truncated as the Rust tokenizer does.
        ``clip_at``: the text's first that many characters are tried first, cut at a space between words (so their
        ids are the whole text's first ones); the whole text is read where they fall short of the limit."""
        clipped = clip_text(text, clip_at)
        body = np.fromiter(self.words(clipped, cache), dtype=np.int64)
        if len(body) < self.limit and clipped is not text:
            return self.ids(text, cache)
        return self.wrap(body)


class _Cache(dict):
    """A dict that fills a missing word with its pieces on first lookup (so lookups run in C through ``map``)."""

    def __init__(self, pieces, seed: dict):
        super().__init__(seed)
        self.pieces = pieces

    def __missing__(self, word: str) -> tuple[int, ...]:
        value = self[word] = self.pieces(word)
        return value
