"""MS MARCO passage leaderboard files: write one from a run, validate one before submitting.

python -m pyserini_dr.eval.msmarco_submission write RUN --output FILE [--hits 1000]
python -m pyserini_dr.eval.msmarco_submission validate FILE [--topics msmarco-passage-dev-subset] [--max-hits 1000]

The format is the leaderboard's ``qid<TAB>pid<TAB>rank`` (microsoft/msmarco ``Submission.md``). The checks follow
the official scorer, ``ms_marco_eval.py`` (microsoft/MSMARCO-Passage-Ranking, commit 2ec0d6f): every line is
split on tabs into ``int(qid)``, ``int(pid)``, ``int(rank)`` or the file is rejected as "not valid format"; the
rank indexes a list of 1000 slots per query (``[0] * 1000``, ``[rank - 1] = pid``), so ranks run 1..1000; and
``quality_checks_qids`` refuses a passage ranked twice for one query ("Cannot rank a passage multiple times for a
single query"). The scorer silently lets a later line overwrite an earlier one with the same rank and scores gaps
as non-relevant, so this validator is stricter, as TREC's submission checkers are (missing or extraneous topics,
duplicates, too many documents per topic): ranks of a query must be 1, 2, 3, ... in file order, every qid must
be one of the topics (the 6,980 dev-small queries by default) and every topic must be ranked, and blank lines are
refused. The first problem is reported as ``FILE:LINE: ...`` (exit 2).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable

from ..cli import ArgumentParser, positive, run_main
from ..data.lines import numbered_lines
from ..data.runs import Run, write_run
from ..errors import InputError, where

MAX_HITS = 1000          # ms_marco_eval.py keeps 1000 slots per query
DEV_SMALL = "msmarco-passage-dev-subset"
DEV_SMALL_QUERIES = 6980
_INT = re.compile(r"^[0-9]+$")


@dataclass
class Summary:
    queries: int
    lines: int
    min_hits: int
    max_hits: int

    def __str__(self) -> str:
        return (f"{self.queries:,} queries, {self.lines:,} lines, {self.min_hits:,} to {self.max_hits:,} passages "
                f"per query")


def write_submission(run: Run, path, hits: int = MAX_HITS) -> int:
    """Write ``qid<TAB>pid<TAB>rank`` (ranks 1..hits, score descending then pid) atomically; returns lines."""
    if not 1 <= hits <= MAX_HITS:
        raise InputError(f"--hits must be 1..{MAX_HITS} (the leaderboard scores at most {MAX_HITS} per query)")
    for qid, qhits in run.items():
        bad = qid if not _INT.match(qid) else next((d for d, _ in qhits if not _INT.match(d)), None)
        if bad is not None:
            raise InputError(f"MS MARCO ids are integers; the run has {bad!r} (query {qid})")
    return write_run(run, path, output_format="msmarco", hits=hits)


def validate_submission(path, topics: Iterable[str] | None, max_hits: int = MAX_HITS,
                        topics_name: str = "topics") -> Summary:
    """Check a submission file; the first problem raises InputError ``path:line: ...``.

    ``topics``: the qids that must all be ranked, and nothing else (None: any qid); a missing one is named in
    the topics' order.
    """
    path = os.fspath(path)
    ordered = list(topics) if topics is not None else None
    topics = set(ordered) if ordered is not None else None
    last_rank: dict[str, int] = {}
    seen: dict[str, set[str]] = {}
    no = 0
    for no, line in numbered_lines(path, blank=True):
        at = where(path, no)
        if not line.strip():
            raise InputError(f"{at}: blank line")
        cols = line.split("\t")
        if len(cols) != 3:
            raise InputError(f"{at}: expected 3 tab-separated fields (qid, pid, rank), found {len(cols)}: "
                             f"{line[:60]!r}")
        for name, value in zip(("qid", "pid", "rank"), cols):
            if not _INT.match(value):
                raise InputError(f"{at}: {name} {value!r} is not a non-negative integer")
        qid, pid, rank = cols[0], cols[1], int(cols[2])
        if topics is not None and qid not in topics:
            raise InputError(f"{at}: query {qid} is not one of the {len(topics):,} {topics_name} queries")
        expected = last_rank.get(qid, 0) + 1
        if rank != expected:
            what = "the first rank of a query must be 1" if expected == 1 else \
                f"ranks of a query must be consecutive, expected {expected} after {expected - 1}"
            raise InputError(f"{at}: query {qid} has rank {rank}; {what}")
        if rank > max_hits:
            raise InputError(f"{at}: query {qid} ranks more than {max_hits} passages (the leaderboard's limit)")
        pids = seen.setdefault(qid, set())
        if pid in pids:
            raise InputError(f"{at}: query {qid} ranks passage {pid} twice (the official scorer refuses this)")
        pids.add(pid)
        last_rank[qid] = rank
    if not last_rank:
        raise InputError(f"{path}: empty file, no rankings")
    if topics is not None:
        missing = [q for q in ordered if q not in last_rank]
        if missing:
            raise InputError(f"{path}: {len(missing):,} of the {len(topics):,} {topics_name} queries have no "
                             f"ranking (first: {missing[0]})")
    counts = list(last_rank.values())
    return Summary(len(counts), no, min(counts), max(counts))


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.eval.msmarco_submission",
                                     description="Write or validate an MS MARCO passage leaderboard file.")
    sub = parser.add_subparsers(dest="action", required=True)
    w = sub.add_parser("write", help="run (TREC or MS MARCO) -> qid<TAB>pid<TAB>rank")
    w.add_argument("run")
    w.add_argument("--output", required=True)
    w.add_argument("--hits", type=positive, default=MAX_HITS, help=f"passages per query, at most {MAX_HITS}")
    v = sub.add_parser("validate", help="check a file before submitting it")
    v.add_argument("file")
    v.add_argument("--topics", default=DEV_SMALL,
                   help=f"topics name or file whose queries must all be ranked (default {DEV_SMALL}, "
                        f"{DEV_SMALL_QUERIES:,} queries)")
    v.add_argument("--max-hits", type=positive, default=MAX_HITS, help="passages allowed per query")
    args = parser.parse_args(argv)

    if args.action == "write":
        from ..data.runs import read_run

        run = read_run(args.run)
        lines = write_submission(run, args.output, args.hits)
        print(f"wrote {lines:,} lines for {len(run):,} queries -> {args.output}; check it with "
              f"python -m pyserini_dr.eval.msmarco_submission validate {args.output}")
        return 0

    from ..data.registry import resolve_topics

    topics = resolve_topics(args.topics)
    summary = validate_submission(args.file, topics, args.max_hits, topics_name=args.topics)
    print(f"ok: {args.file}: {summary}")
    return 0


if __name__ == "__main__":
    run_main(main)
