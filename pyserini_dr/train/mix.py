"""One training file from several, each repeated: labelled queries seen N times per pass beside a larger set of
pseudo-labelled ones seen once, so that one run gives each its own number of epochs.

    python -m pyserini_dr.train.mix --inputs train.jsonl pseudo.jsonl.gz --repeats 10 1 --output mix.jsonl

Copy k > 0 of query QID is named ``QID~k``. A teacher-scores file names the original ids, so with ``simlm`` only
the first copy of a query gets a KL term; ``tasb`` refuses a mixed file (its topic clusters name the original ids).
"""
from __future__ import annotations

import sys

from ..cli import ArgumentParser, positive, run_main
from ..errors import InputError
from .examples import read_examples, repeat_examples, write_examples


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m pyserini_dr.train.mix", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", nargs="+", required=True, help="training files (python -m pyserini_dr.train.negatives, "
                                                               "pseudo_labels), .gz allowed")
    p.add_argument("--repeats", nargs="+", type=positive, help="times each input is repeated (default: 1 each)")
    p.add_argument("--output", required=True, help="the mixed file (.gz to compress)")
    args = p.parse_args(argv)
    repeats = args.repeats or [1] * len(args.inputs)
    if len(repeats) != len(args.inputs):
        raise InputError(f"{len(repeats)} --repeats for {len(args.inputs)} --inputs")
    mixed = repeat_examples([read_examples(path) for path in args.inputs], repeats)
    write_examples(mixed, args.output)
    print(f"wrote {len(mixed):,} training queries -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
