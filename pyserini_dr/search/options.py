"""The run-output flags every search command shares (Pyserini's ``--output --output-format --hits
--remove-query --max-passage ...``)."""
from __future__ import annotations

import argparse

from ..cli import output_file, positive, pyserini_flags

PYSERINI_OUTPUT_FLAGS = dict(only={"--topics-format": (("default",), "topics are read by file type or dataset name")})


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=output_file, required=True, help="run file to write")
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--hits", type=positive, default=1000)
    parser.add_argument("--remove-query", action="store_true", help="drop a hit whose docid equals the query id")
    parser.add_argument("--run-tag", default=None)
    parser.add_argument("--max-passage", action="store_true",
                        help="MaxP: a document (docid up to --max-passage-delimiter) ranked by its best passage")
    parser.add_argument("--max-passage-hits", type=positive, default=100, help="documents a query with --max-passage")
    parser.add_argument("--max-passage-delimiter", default="#", help="between a docid and its passage number")
    pyserini_flags(parser, **PYSERINI_OUTPUT_FLAGS)

