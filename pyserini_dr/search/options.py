"""The run-output flags every search command shares (Pyserini's ``--output --output-format --hits
--remove-query``)."""
from __future__ import annotations

import argparse

from ..cli import output_file, positive


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=output_file, required=True, help="run file to write")
    parser.add_argument("--output-format", choices=["trec", "msmarco"], default="trec")
    parser.add_argument("--hits", type=positive, default=1000)
    parser.add_argument("--remove-query", action="store_true", help="drop a hit whose docid equals the query id")
    parser.add_argument("--run-tag", default=None)
