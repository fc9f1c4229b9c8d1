"""The Rust tokenizer, configured like ``tokenizer(..., max_length=L, truncation="longest_first")``, and exact
shortcuts around it: tokenizing only a word-aligned prefix of long texts, ASCII texts normalized in Python and, for
BERT's WordPiece, tokenized in Python (``_wordpiece``); worker processes for all of it."""
from __future__ import annotations

import os
import re
from itertools import chain

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


# A run of characters other than BERT's ASCII whitespace holding a non-ASCII character (PassageTokenizer._mixed_ids),
# tried only where a run starts, and its ASCII head read without backtracking: one pass over the text
_NON_ASCII_RUN = re.compile(r"(?<![^ \t\n\r])[^ \t\n\r\x80-\U0010ffff]*+[^\x00-\x7f][^ \t\n\r]*")

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


# AsciiWordPiece needs about a quarter of the Rust tokenizer's CPU time for a text but runs on one core: on a 16-vCPU
# H100 host the Rust tokenizer ran 4.0x faster on 8 threads than on 1 and 7.4x on 16, and the SciFact texts took
# 0.26-0.41 s on 16 threads against 0.46-0.95 s for the Python path (eval/results/bench_encode.h100.txt)
PYTHON_WORDPIECE_MAX_THREADS = 4


def rust_threads() -> int:
    """The Rust tokenizer's thread count: RAYON_NUM_THREADS where set, else the cores."""
    try:
        return max(1, int(os.environ.get("RAYON_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


def worker_threads(processes: int) -> int:
    """Rust threads of each of ``processes`` tokenizer workers: the cores less two, shared out."""
    return max(1, ((os.cpu_count() or 1) - 2) // processes)


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
    ASCII texts are normalized in Python (cleaning, lowercasing: all it does to ASCII) and tokenized without it (a
    third less time) or, where the pipeline is BERT's WordPiece and ``python_wordpiece``, by ``AsciiWordPiece``: a
    quarter of the Rust tokenizer's CPU time, but on one core, while the Rust tokenizer spreads over all of them.
    So that is the default only where the Rust tokenizer gets at most ``PYTHON_WORDPIECE_MAX_THREADS`` threads (small
    machines, tokenizer worker processes). With it, the other texts' ASCII stretches go to it too and only their
    runs of non-ASCII words to the Rust tokenizer (``_mixed_ids``). Long texts are tokenized from a word-aligned
    prefix (``encode_clipped``). Every other text, and any text holding an added token's string (such as "[SEP]",
    which the full tokenizer reads as that token), goes through the full tokenizer."""

    def __init__(self, tokenizer_json: str, max_length: int, python_wordpiece: bool | None = None):
        import json

        from ._wordpiece import AsciiWordPiece

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


# Texts per worker task. Each slice of the corpus is cut into such tasks, so all workers share it and it is ready
# after about one task's tokenization rather than one worker's pass over the whole slice
TASK_SIZE = 128


class TokenizerProcesses:
    """Tokenization in worker processes, each with its own Rust thread pool: Python tokenization (``AsciiWordPiece``
    where the workers get few Rust threads) and the per-text Python work around the Rust tokenizer run on one core
    in one process. Two cores are left to the process that launches the device's kernels (diagnostics on an H100
    host found no clear difference from using all 16, within that host's noise). Workers are spawned (safe beside
    CUDA) once and kept; spawning re-imports the main script, so a script using them needs an
    ``if __name__ == "__main__":`` guard."""

    def __init__(self, tokenizer: PassageTokenizer, processes: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        # every worker is started and ready before the first slice: the executor spawns spawn-context workers one
        # per submit, and a worker still importing when the encoding starts competes with it for the cores
        ready = context.Barrier(processes)
        self.pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_worker,
                                        initargs=(tokenizer.spec, tokenizer.max_length, worker_threads(processes),
                                                  ready))
        for started in [self.pool.submit(os.getpid) for _ in range(processes)]:
            started.result()
        self.task_size = TASK_SIZE

    def submit(self, inputs: list, pair: bool):
        """A future of ``PassageTokenizer.features(inputs, pair)``, tokenized as tasks of up to ``task_size`` texts
        spread over the workers: a slice is ready when its tasks are, not after one worker's pass over all of it."""
        import threading
        from concurrent.futures import Future

        result = Future()
        starts = range(0, len(inputs), self.task_size)
        parts: list = [None] * len(starts)
        lock = threading.Lock()

        def arrived(part, done):  # on the executor's thread, or on the caller's for a task already done
            with lock:
                if result.done():
                    return
                if done.cancelled():
                    result.cancel()
                elif done.exception() is not None:
                    result.set_exception(done.exception())
                else:
                    try:  # an error raised in a done-callback would only be logged, and the caller wait forever
                        parts[part] = _unpack(*done.result())
                    except Exception as error:
                        result.set_exception(error)
                        return
                    if all(p is not None for p in parts):
                        result.set_result({key: None if parts[0][key] is None else
                                           [x for p in parts for x in p[key]] for key in parts[0]})

        if not parts:
            result.set_result({"input_ids": [], "token_type_ids": [] if pair else None})
        for part, start in enumerate(starts):
            task = self.pool.submit(_features_in_worker, inputs[start:start + self.task_size], pair)
            task.add_done_callback(lambda done, part=part: arrived(part, done))
        return result

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


_worker: PassageTokenizer | None = None


def _start_worker(tokenizer_json: str, max_length: int, threads: int, ready) -> None:
    global _worker
    os.environ["RAYON_NUM_THREADS"] = str(threads)  # read when the Rust thread pool starts, at the first batch
    _worker = PassageTokenizer(tokenizer_json, max_length)
    ready.wait(timeout=600)  # no worker takes a task before all are started (a failed start breaks the barrier)


def _features_in_worker(inputs: list, pair: bool) -> tuple:
    """The features packed as one array per field, in the smallest integer type that holds them (uint16 for
    vocabularies under 65,536), and the lengths: one buffer of a quarter of the bytes to send back. The launching
    process reads it in pipe-sized pieces on a thread that shares the interpreter lock with the one feeding the
    device (a throw-away test on a 2-core machine: a busy thread lost 27% of its work while 1 MB results arrived
    back to back, 1% with 250 kB ones)."""
    features = _worker.features(inputs, pair)
    lengths = np.fromiter(map(len, features["input_ids"]), dtype=np.int64, count=len(inputs))
    packed = {}
    for key, arrays in features.items():
        if arrays is not None:
            flat = np.concatenate(arrays) if len(arrays) else np.zeros(0, np.int64)
            packed[key] = flat.astype(np.min_scalar_type(int(flat.max()))) if flat.size and flat.min() >= 0 else flat
    return packed, lengths


def _unpack(packed: dict, lengths: np.ndarray) -> dict:
    cuts = np.cumsum(lengths)[:-1]
    split = {k: np.split(v.astype(np.int64), cuts) for k, v in packed.items()}
    return {"input_ids": split["input_ids"], "token_type_ids": split.get("token_type_ids")}
