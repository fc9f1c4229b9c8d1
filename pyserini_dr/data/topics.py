"""Topics (queries): BEIR ``queries.jsonl`` ({_id, text}), TSV (``qid<TAB>text``) or Pyserini's JSON topics (one
object ``{qid: {"title": text, ...}}``, as ``pyserini.search.get_topics`` gives them), as an ordered dict."""
from __future__ import annotations

from ..errors import InputError, refuse_spaced_id, where
from .lines import is_jsonl, json_lines, numbered_lines


def read_topics(path, qids: set[str] | None = None) -> dict[str, str]:
    """qid -> query text, in file order; ``qids`` keeps only those ids (a BEIR split)."""
    topics: dict[str, str] = {}
    pyserini_json = _pyserini_json(path)
    if pyserini_json is not None:
        rows = _json_topics(path, pyserini_json)
    elif is_jsonl(path):
        rows = ((no, obj.get("_id", obj.get("id")), obj.get("text", obj.get("title"))) for no, obj in json_lines(path))
    else:
        rows = (_tsv_topic(path, no, line) for no, line in numbered_lines(path))
    for no, qid, text in rows:
        if qid is None or str(qid) == "":
            raise InputError(f"{where(path, no)}: query has no id")
        if text is None:
            raise InputError(f"{where(path, no)}: query {qid} has no text")
        qid = str(qid)
        refuse_spaced_id(qid, "query", where(path, no))
        if qid in topics:
            raise InputError(f"{where(path, no)}: duplicate query id {qid!r}")
        if qids is None or qid in qids:
            topics[qid] = str(text)
    if not topics:
        raise InputError(f"{path}: no topics" + (" for the requested query ids" if qids is not None else ""))
    return topics


def _pyserini_json(path):
    """The parsed content of a ``.json`` file of Pyserini's topics (one object ``{qid: ...}``, or anything else that
    is one JSON value); None for JSON lines of ``{_id, text}`` or a file that does not parse (read as JSON lines,
    which names the bad line)."""
    import json

    if not str(path).endswith(".json"):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError:
            return None
    return None if isinstance(data, dict) and ("_id" in data or "id" in data) else data


def _json_topics(path, data):
    """Pyserini's JSON topics: qid -> its fields (the query is ``title``, Pyserini's default ``--topics-format``
    field, else ``text`` or ``query``) or qid -> the query itself."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: Pyserini's JSON topics are one object, query id -> query")
    for qid, value in data.items():
        text = value if isinstance(value, str) else next(
            (value[k] for k in ("title", "text", "query") if isinstance(value, dict) and k in value), None)
        yield None, qid, text


def _tsv_topic(path, no, line):
    parts = line.split("\t", 1)
    if len(parts) != 2:
        raise InputError(f"{where(path, no)}: expected 'qid<TAB>query', found {line[:60]!r}")
    return no, parts[0].strip(), parts[1].strip()


def write_topics_tsv(topics: dict[str, str], path) -> None:
    """``qid<TAB>text`` lines, as Pyserini's TSV topics; a tab or line break inside a query becomes a space (the
    one change the format forces: other whitespace is kept, so the file reads back as the same queries)."""
    from ..files import atomic_write

    with atomic_write(path) as f:
        for qid, text in topics.items():
            f.write(f"{qid}\t{text.translate(_TSV_BREAKS).strip()}\n")


_TSV_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\v": " ", "\f": " ", "\x1c": " ", "\x1d": " ",
                             "\x1e": " ", "\x85": " ", "\u2028": " ", "\u2029": " "})
