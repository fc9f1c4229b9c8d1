"""The run-output flags every search command shares (Pyserini's ``--output --output-format --hits
--remove-query``), and Pyserini's output flags we refuse."""
from __future__ import annotations

import argparse

from ..cli import positive, pyserini_flags

MAX_PASSAGE = "MaxP (best passage per document) is not implemented"
PYSERINI_OUTPUT_FLAGS = dict(
    refused={"--max-passage": MAX_PASSAGE, "--max-passage-hits": MAX_PASSAGE, "--max-passage-delimiter": MAX_PASSAGE},
    only={"--topics-format": (("default",), "topics are read by file type or dataset name")})


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="run file to write")
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--hits", type=positive, default=1000)
    parser.add_argument("--remove-query", action="store_true", help="drop a hit whose docid equals the query id")
    parser.add_argument("--run-tag", default=None)
    pyserini_flags(parser, **PYSERINI_OUTPUT_FLAGS)
