"""The Rust tokenizer, configured like ``tokenizer(..., max_length=L, truncation="longest_first")``, and an exact
shortcut for long texts: tokenizing only a word-aligned prefix."""
from __future__ import annotations

import os

import numpy as np


def configured(tokenizer_json: str, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(max_length, strategy="longest_first")
    tok.no_padding()
    return tok


def to_features(encodings, with_types: bool) -> dict:
    return {"input_ids": [np.asarray(e.ids, dtype=np.int64) for e in encodings],
            "token_type_ids": [np.asarray(e.type_ids, dtype=np.int64) for e in encodings] if with_types else None}


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
        if len(text) > limit:
            end = _word_boundary(text, limit)
            if end > 0:
                text = text[:end]
                cut.append(i)
        clipped.append(text)
    encodings = tok.encode_batch_fast(clipped)
    short = [i for i in cut if len(encodings[i].ids) < max_length]
    for i, full in zip(short, tok.encode_batch_fast([texts[i] for i in short]) if short else []):
        encodings[i] = full
    return encodings


def _word_boundary(text: str, limit: int) -> int:
    """The last position before ``limit`` of a space with non-whitespace on both sides, or -1."""
    end = text.rfind(" ", 0, limit)
    while end > 0 and (text[end - 1].isspace() or text[end + 1].isspace()):
        end = text.rfind(" ", 0, end)
    return end


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
    """The Rust tokenizer for single passage texts, with two exact shortcuts: long texts are tokenized from a
    word-aligned prefix (``encode_clipped``), and where the tokenizer normalizes with BERT's normalizer, ASCII texts
    are normalized in Python (cleaning, lowercasing: all that normalizer does to ASCII; Unicode decomposition and
    accent stripping change nothing there) and tokenized without it, which saves a third of the tokenizer's time.
    Every other text goes through the full tokenizer."""

    def __init__(self, tokenizer_json: str, max_length: int):
        import json

        self.spec, self.max_length = tokenizer_json, max_length
        self.full = configured(tokenizer_json, max_length)
        spec = json.loads(tokenizer_json)
        normalizer = spec.get("normalizer") or {}
        self.ascii = None
        if normalizer.get("type") == "BertNormalizer":
            self.table, self.deletions = _ascii_table(normalizer.get("clean_text", True),
                                                      normalizer.get("lowercase", True))
            spec["normalizer"] = None
            self.ascii = configured(json.dumps(spec), max_length)

    def _normalize_ascii(self, text: str) -> str:
        return text.encode("ascii").translate(self.table, self.deletions).decode("ascii")

    def encode(self, texts: list[str]) -> list:
        plain = [i for i, t in enumerate(texts) if t.isascii()] if self.ascii is not None else []
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

    def features(self, inputs: list, pair: bool) -> dict:
        """``to_features`` of texts, or of (a, b) pairs, whose longest_first cut a clipped text could change."""
        if pair:
            return to_features(self.full.encode_batch_fast(inputs), True)
        return to_features(self.encode(inputs), False)


class TokenizerProcesses:
    """Tokenization in worker processes, each with its own Rust thread pool: the per-text Python work
    (normalization, clipping, ids to arrays) is a third of the tokenizer's time and runs on one core in one process.
    Two cores are left to the process that launches the device's kernels (diagnostics on an H100 host found no clear
    difference from using all 16, within that host's noise). Workers are spawned (safe beside CUDA) once and kept;
    spawning re-imports the main script, so a script using them needs an ``if __name__ == "__main__":`` guard."""

    def __init__(self, tokenizer: PassageTokenizer, processes: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, ((os.cpu_count() or 1) - 2) // processes)
        self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_worker, initargs=(tokenizer.spec, tokenizer.max_length,
                                                                             threads))

    def submit(self, inputs: list, pair: bool):
        """A future of ``PassageTokenizer.features(inputs, pair)``."""
        from concurrent.futures import Future

        result = Future()

        def unpack(packed):
            if packed.cancelled():
                result.cancel()
            elif packed.exception() is not None:
                result.set_exception(packed.exception())
            else:
                result.set_result(_unpack(*packed.result()))

        self.pool.submit(_features_in_worker, inputs, pair).add_done_callback(unpack)
        return result

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


_worker: PassageTokenizer | None = None


def _start_worker(tokenizer_json: str, max_length: int, threads: int) -> None:
    global _worker
    os.environ["RAYON_NUM_THREADS"] = str(threads)  # read when the Rust thread pool starts, at the first batch
    _worker = PassageTokenizer(tokenizer_json, max_length)


def _features_in_worker(inputs: list, pair: bool) -> tuple:
    """The features packed as one array per field and the lengths: one buffer to send back, not one per text."""
    features = _worker.features(inputs, pair)
    lengths = np.fromiter(map(len, features["input_ids"]), dtype=np.int64, count=len(inputs))
    packed = {k: np.concatenate(v) if len(v) else np.zeros(0, np.int64) for k, v in features.items() if v is not None}
    return packed, lengths


def _unpack(packed: dict, lengths: np.ndarray) -> dict:
    cuts = np.cumsum(lengths)[:-1]
    return {"input_ids": np.split(packed["input_ids"], cuts),
            "token_type_ids": np.split(packed["token_type_ids"], cuts) if "token_type_ids" in packed else None}
