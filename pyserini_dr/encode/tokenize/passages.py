"""The Rust tokenizer, configured like ``tokenizer(..., max_length=L, truncation="longest_first")``, and exact
shortcuts around it: tokenizing only a word-aligned prefix of long texts (``clip``), ASCII texts normalized in Python
and, for BERT's WordPiece, tokenized in Python (``wordpiece``)."""
from __future__ import annotations

import os
import re
from itertools import chain

import numpy as np

from .clip import CLIP_CHARS_PER_TOKEN, clip_text, encode_clipped
from .wordpiece import AsciiWordPiece


def configured(tokenizer_json: str, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(max_length, strategy="longest_first")
    tok.no_padding()
    return tok


def to_features(encodings, with_types: bool) -> dict:
    return {"input_ids": [np.asarray(e.ids, dtype=np.int64) for e in encodings],
            "token_type_ids": [np.asarray(e.type_ids, dtype=np.int64) for e in encodings] if with_types else None}


# A run of characters other than BERT's ASCII whitespace holding a non-ASCII character (PassageTokenizer._mixed_ids),
# tried only where a run starts, and its ASCII head read without backtracking: one pass over the text
_NON_ASCII_RUN = re.compile(r"(?<![^ \t\n\r])[^ \t\n\r\x80-\U0010ffff]*+[^\x00-\x7f][^ \t\n\r]*")


# AsciiWordPiece needs a fraction of the Rust tokenizer's CPU time for a text but runs on one core, while the Rust
# tokenizer spreads over its threads: with more threads than this the Rust tokenizer is faster
# (scripts/bench_encode.py, bench_tokenize.py; eval/results/bench_encode.*)
PYTHON_WORDPIECE_MAX_THREADS = 4


def rust_threads() -> int:
    """The Rust tokenizer's thread count: RAYON_NUM_THREADS where set, else the cores."""
    try:
        return max(1, int(os.environ.get("RAYON_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


def _ascii_table(clean: bool, lowercase: bool) -> tuple[bytes, bytes]:
    """A ``bytes.translate`` table and deletions doing what BertNormalizer does to ASCII text in one C pass:
    clean_text drops control characters and makes tab / newline / carriage return spaces; lowercase lowers A-Z."""
    table = bytearray(range(256))
    if lowercase:
        table[ord("A"):ord("Z") + 1] = bytes(range(ord("a"), ord("z") + 1))
    if not clean:
        return bytes(table), b""
    for c in b"\t\n\r":
        table[c] = ord(" ")
    return bytes(table), bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


class PassageTokenizer:
    """The Rust tokenizer for single passage texts, with exact shortcuts. Where the tokenizer has BERT's normalizer,
    ASCII texts are normalized in Python (cleaning, lowercasing: all it does to ASCII) and tokenized without it (less
    time) or, where the pipeline is BERT's WordPiece and ``python_wordpiece``, by ``AsciiWordPiece``: a fraction of
    the Rust tokenizer's CPU time, but on one core, while the Rust tokenizer spreads over all of them.
    So that is the default only where the Rust tokenizer gets at most ``PYTHON_WORDPIECE_MAX_THREADS`` threads (small
    machines, tokenizer worker processes). With it, the other texts' ASCII stretches go to it too and only their
    runs of non-ASCII words to the Rust tokenizer (``_mixed_ids``). Long texts are tokenized from a word-aligned
    prefix (``encode_clipped``). Every other text, and any text holding an added token's string (such as "[SEP]",
    which the full tokenizer reads as that token), goes through the full tokenizer."""

    def __init__(self, tokenizer_json: str, max_length: int, python_wordpiece: bool | None = None):
        import json

        self.spec, self.max_length = tokenizer_json, max_length
        self.full = configured(tokenizer_json, max_length)
        spec = json.loads(tokenizer_json)
        self.added = [t["content"].lower() for t in spec.get("added_tokens") or []]
        normalizer = spec.get("normalizer") or {}
        self.ascii = self.wordpiece = self.runs = None
        if normalizer.get("type") == "BertNormalizer":
            self.table, self.deletions = _ascii_table(normalizer.get("clean_text", True),
                                                      normalizer.get("lowercase", True))
            if python_wordpiece is None:
                python_wordpiece = rust_threads() <= PYTHON_WORDPIECE_MAX_THREADS
            self.wordpiece = AsciiWordPiece.from_spec(spec, max_length) if python_wordpiece else None
            # an added token is matched inside a run as in its text unless it can take in whitespace
            local = all(not (t.get("lstrip") or t.get("rstrip") or any(c.isspace() for c in t["content"]))
                        for t in spec.get("added_tokens") or [])
            if self.wordpiece is not None and local:
                from tokenizers import Tokenizer

                self.runs = Tokenizer.from_str(tokenizer_json)
                self.runs.no_truncation()
                self.runs.no_padding()
            spec["normalizer"] = None
            self.ascii = configured(json.dumps(spec), max_length)

    def _normalize_ascii(self, text: str) -> str:
        return text.encode("ascii").translate(self.table, self.deletions).decode("ascii")

    def _plain(self, text: str) -> bool:
        """ASCII, with no added token's string in it."""
        return text.isascii() and not self._holds_added(text)

    def _holds_added(self, text: str) -> bool:
        """An added token's string is in the text, in any case (some added tokens are matched after lowercasing)."""
        if not self.added:
            return False
        lowered = text.lower()
        return any(a in lowered for a in self.added)

    def encode(self, texts: list[str]) -> list:
        """Rust encodings of single texts: the ASCII shortcut (Python normalization) and word-aligned prefixes."""
        plain = [i for i, t in enumerate(texts) if self._plain(t)] if self.ascii is not None else []
        if not plain:
            return encode_clipped(self.full, texts, self.max_length)
        ascii_rows = set(plain)
        others = [i for i in range(len(texts)) if i not in ascii_rows]
        out: list = [None] * len(texts)
        for tok, rows, prepare in ((self.ascii, plain, self._normalize_ascii), (self.full, others, str)):
            if rows:
                for i, e in zip(rows, encode_clipped(tok, [prepare(texts[i]) for i in rows], self.max_length)):
                    out[i] = e
        return out

    def ids(self, texts: list[str]) -> list[np.ndarray]:
        """The ids of single texts, as the full tokenizer gives them: where ``AsciiWordPiece`` is used, it takes
        ASCII texts and the ASCII stretches of the others (``_mixed_ids``); the full tokenizer takes texts holding an
        added token's string."""
        if self.wordpiece is None:
            return to_features(self.encode(texts), False)["input_ids"]
        out: list = [None] * len(texts)
        mixed, rest = [], []
        cache, clip_at = self.wordpiece.cache(), CLIP_CHARS_PER_TOKEN * self.max_length
        for i, text in enumerate(texts):
            if self._plain(text):
                out[i] = self.wordpiece.ids(self._normalize_ascii(text), cache, clip_at)
            elif self.runs is not None and not self._holds_added(text):
                mixed.append(i)
            else:
                rest.append(i)
        if mixed:
            for i, ids in zip(mixed, self._mixed_ids([texts[i] for i in mixed], cache, clip_at)):
                out[i] = ids
        if rest:
            for i, ids in zip(rest, to_features(self.encode([texts[i] for i in rest]), False)["input_ids"]):
                out[i] = ids
        return out

    def _mixed_ids(self, texts: list[str], cache: dict, clip_at: int | None) -> list[np.ndarray]:
        """The ids of texts with non-ASCII characters (and no added token's string): the stretches between runs of
        non-whitespace holding a non-ASCII character are ASCII and go to ``AsciiWordPiece``, the runs to the full
        tokenizer, all in one call. Exact: BERT's normalizer and pre-tokenizer change or split each run between
        ASCII whitespace on its own, and WordPiece splits words, so a run's ids are the same alone as in its text.
        A fifth of SciFact's texts have a non-ASCII character; their runs hold 1.7% of their characters."""
        wordpiece, runs, layouts = self.wordpiece, [], []
        clipped = [clip_text(text, clip_at) for text in texts]
        for text in clipped:
            layout, at = [], 0  # ASCII stretches (normalized) and, between them, the runs' numbers
            for run in _NON_ASCII_RUN.finditer(text):
                layout += [self._normalize_ascii(text[at:run.start()]), len(runs)]
                runs.append(run.group())
                at = run.end()
            layout.append(self._normalize_ascii(text[at:]))
            layouts.append(layout)
        pieces = [e.ids for e in self.runs.encode_batch_fast(runs, add_special_tokens=False)] if runs else []
        out, short = [], []
        for k, layout in enumerate(layouts):
            body = np.fromiter(chain.from_iterable(pieces[x] if isinstance(x, int) else wordpiece.words(x, cache)
                                                   for x in layout), dtype=np.int64)
            if len(body) < wordpiece.limit and clipped[k] is not texts[k]:
                short.append(k)
            out.append(wordpiece.wrap(body))
        for k, ids in zip(short, self._mixed_ids([texts[k] for k in short], cache, None) if short else []):
            out[k] = ids
        return out

    def features(self, inputs: list, pair: bool) -> dict:
        """``to_features`` of texts, or of (a, b) pairs, whose longest_first cut a clipped text could change."""
        if pair:
            return to_features(self.full.encode_batch_fast(inputs), True)
        return {"input_ids": self.ids(inputs), "token_type_ids": None}
