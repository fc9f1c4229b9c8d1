"""Corpora: BEIR ``corpus.jsonl`` ({_id, title, text}) and Pyserini JsonCollection ({id, contents})."""
from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..errors import InputError, refuse_spaced_id, where
from .lines import json_lines, numbered_lines


def flat_text(title: str, text: str) -> str:
    """Flat text as Pyserini's BEIR flat indexes and BEIR's dense evaluation use: title + " " + text."""
    return f"{title} {text}".strip() if title else text


@dataclass(frozen=True)
class Document:
    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        return flat_text(self.title, self.text)


class CorpusStats:
    """Counts gathered while reading. Empty documents (BEIR has some) are kept and counted, not refused."""

    def __init__(self):
        self.documents = 0
        self.empty = 0          # neither title nor text
        self.empty_text = 0     # no text (a title alone is possible)

    def __str__(self):
        return f"{self.documents:,} documents ({self.empty:,} with empty text, kept)"


_has_whitespace = re.compile(r"\s").search  # refuse_spaced_id's test, without its message built per document

CORPUS_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")


def corpus_files(path) -> list[str]:
    """A corpus file, or the files of a corpus folder (a Pyserini JsonCollection, or the ``--corpus`` folder of
    ``pyserini.encode``): its .json/.jsonl(.gz) files in name order, so that row order is the same on every machine
    (Anserini and ``pyserini.encode`` take the file system's order)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        return [path]
    files = sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith(CORPUS_SUFFIXES))
    if not files:
        raise InputError(f"{path}: a corpus folder holds .json or .jsonl files; found none")
    return files


def _documents(path) -> Iterator[tuple[int, dict]]:
    """(line, object) of a JSON-lines file, or (element, object) of a .json file holding one JSON array of
    documents, which Anserini's JsonCollection also reads."""
    array = path.endswith((".json", ".json.gz")) and next(numbered_lines(path), (0, ""))[1].lstrip().startswith("[")
    if not array:
        yield from json_lines(path)
        return
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            docs = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: malformed JSON array ({e})") from None
    for no, obj in enumerate(docs, 1):
        if not isinstance(obj, dict):
            raise InputError(f"{path}: element {no} of the array is not a JSON object")
        yield no, obj


def has_titles(path, first: int = 1000) -> bool:
    """Whether one of the corpus's first documents has a title."""
    from itertools import islice

    return any(d.title.strip() for d in islice(iter_corpus(path), first))


def iter_corpus(path, stats: CorpusStats | None = None) -> Iterator[Document]:
    """Stream documents of a corpus file or folder (``corpus_files``), refusing malformed JSON, a missing id and
    duplicate ids (across the folder's files too) with the file and line."""
    seen: set[str] = set()
    for file in corpus_files(path):
        yield from _file_documents(file, seen, stats)


def _file_documents(path, seen: set[str], stats: CorpusStats | None) -> Iterator[Document]:
    for no, obj in _documents(path):
        docid = obj["_id"] if "_id" in obj else obj.get("id", obj.get("docid"))
        if type(docid) is not str:
            docid = None if docid is None else str(docid)
        if not docid:
            raise InputError(f"{where(path, no)}: document has no _id (or id)")
        if _has_whitespace(docid):
            refuse_spaced_id(docid, "document", where(path, no))
        if docid in seen:
            raise InputError(f"{where(path, no)}: duplicate document id {docid!r}")
        seen.add(docid)
        title, text, contents = obj.get("title"), obj.get("text"), obj.get("contents")
        if not (type(title) is str and type(text) is str and contents is None):  # the BEIR shape read directly
            title, text = _title_and_text(obj, docid, where(path, no))
        if stats is not None:
            stats.documents += 1
            stats.empty += not (title.strip() or text.strip())
            stats.empty_text += not text.strip()
        yield Document(docid, title, text)


def _title_and_text(obj: dict, docid: str, at: str) -> tuple[str, str]:
    """Title and text of any other shape of document: JsonCollection's ``contents``, missing or null fields,
    numbers; a list or object as text is refused (str() would index its Python repr)."""
    for key in ("title", "text", "contents"):
        if isinstance(obj.get(key), (list, dict)):
            raise InputError(f"{at}: document {docid}: {key} is a JSON {type(obj[key]).__name__}, not text")
    if "contents" in obj and "text" not in obj:
        return str(obj.get("title") or ""), str(obj["contents"] or "")
    return str(obj.get("title") or ""), str(obj.get("text") or "")


def document_bound(corpus_path: str) -> int:
    """At least the corpus's documents, read fast: the lines of a JSON-lines file (each document is one
    non-blank line), counted as bytes; the documents themselves (``count_documents``) for any other corpus."""
    path = os.fspath(corpus_path)
    if os.path.isdir(path) or not path.endswith(".jsonl") or not os.path.isfile(path):
        return count_documents(path)
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def count_documents(corpus_path: str) -> int:
    """Documents in the corpus, each line validated (ids, JSON) before any encoding starts."""
    return sum(1 for _ in iter_corpus(corpus_path))


def read_corpus(path, stats: CorpusStats | None = None) -> list[Document]:
    return list(iter_corpus(path, stats))


def read_passages(path) -> dict[str, tuple[str, str]]:
    """docid -> (title, text), in corpus order: what encoders, trainers and re-rankers look passages up in."""
    return {d.docid: (d.title, d.text) for d in iter_corpus(path)}


def write_json_collection(docs: Iterable[Document], directory, *, multifield: bool = False,
                          docs_per_file: int = 1_000_000) -> int:
    """Write a Pyserini JsonCollection directory; returns the number of documents.

    Flat: ``contents`` = title + " " + text. Multifield (as Anserini's BEIR multifield regressions):
    ``contents`` = text and a separate ``title`` field, to be indexed with ``-fields title``.
    """
    os.makedirs(directory, exist_ok=True)
    count, out = 0, None
    try:
        for doc in docs:
            if count % docs_per_file == 0:
                if out:
                    out.close()
                out = open(os.path.join(directory, f"docs{count // docs_per_file:02d}.json"), "w", encoding="utf-8")
            row = {"id": doc.docid, "contents": doc.text, "title": doc.title} if multifield else \
                {"id": doc.docid, "contents": doc.contents}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if out:
            out.close()
    return count
