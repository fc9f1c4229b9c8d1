"""Topics (queries): BEIR ``queries.jsonl`` ({_id, text}) or TSV (``qid<TAB>text``), as an ordered dict."""
from __future__ import annotations

from ..errors import InputError, where
from .lines import is_jsonl, json_lines, numbered_lines


def read_topics(path, qids: set[str] | None = None) -> dict[str, str]:
    """qid -> query text, in file order; ``qids`` keeps only those ids (a BEIR split)."""
    topics: dict[str, str] = {}
    if is_jsonl(path):
        rows = ((no, obj.get("_id", obj.get("id")), obj.get("text", obj.get("title"))) for no, obj in json_lines(path))
    else:
        rows = (_tsv_topic(path, no, line) for no, line in numbered_lines(path))
    for no, qid, text in rows:
        if qid is None or str(qid) == "":
            raise InputError(f"{where(path, no)}: query has no id")
        if text is None:
            raise InputError(f"{where(path, no)}: query {qid} has no text")
        qid = str(qid)
        if qid in topics:
            raise InputError(f"{where(path, no)}: duplicate query id {qid!r}")
        if qids is None or qid in qids:
            topics[qid] = str(text)
    if not topics:
        raise InputError(f"{path}: no topics" + (" for the requested query ids" if qids is not None else ""))
    return topics


def _tsv_topic(path, no, line):
    parts = line.split("\t", 1)
    if len(parts) != 2:
        raise InputError(f"{where(path, no)}: expected 'qid<TAB>query', found {line[:60]!r}")
    return no, parts[0].strip(), parts[1].strip()


def write_topics_tsv(topics: dict[str, str], path) -> None:
    from ..files import atomic_write

    with atomic_write(path) as f:
        for qid, text in topics.items():
            f.write(f"{qid}\t{' '.join(text.split())}\n")
