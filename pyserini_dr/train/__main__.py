"""python -m pyserini_dr.train --recipe RECIPE | --preset PAPER --model NAME_OR_DIR --train-data FILE --output DIR

Trains a dense retriever with one of the published recipes (see ``recipes``); rerun the same command after an
interruption to resume from the last checkpoint. ``python -m pyserini_dr.train.negatives`` builds the training file.
"""
from __future__ import annotations

import json
import os
import sys

from ..cli import ArgumentParser, options_from, run_main
from ..errors import InputError


def parse_args(argv=None):
    """The parsed command line; a ``--preset``'s values become the parser's defaults, so the flags given win."""
    from .options import add_train_args
    from .presets import preset_values

    p = ArgumentParser(prog="python -m pyserini_dr.train", description=__doc__.split("\n\n")[0])
    add_train_args(p)
    args = p.parse_args(argv)
    if args.preset is not None:
        p.set_defaults(**preset_values(args.preset))
        args = p.parse_args(argv)
    if args.recipe is None:
        raise InputError("the following arguments are required: --recipe (or --preset)")
    return args


def build(args):
    """The trainer the parsed arguments describe (also used by scripts/bench_train.py)."""
    from .build import build_trainer
    from .options import DataOptions, OptimOptions, recipe_fields
    from .recipes import RECIPES

    options = options_from(args, RECIPES[args.recipe].options_class)
    return build_trainer(options_from(args, DataOptions), options_from(args, OptimOptions), options,
                         recipe_values={f.name: getattr(args, f.name) for f in recipe_fields()})


def main(argv=None) -> int:
    args = parse_args(argv)
    if min(args.batch_size, args.epochs, args.grad_accum, args.log_every, args.margin_bins, args.metric_cut,
           args.decoder_layers, args.depth, args.retrieve_depth) < 1:
        raise InputError("--batch-size, --epochs, --grad-accum, --log-every, --margin-bins, --metric-cut, "
                         "--decoder-layers, --depth and --retrieve-depth must be >= 1")
    if min(args.negatives, args.grad_cache_chunk, args.max_steps, args.save_every, args.refresh_every) < 0:
        raise InputError("--negatives, --grad-cache-chunk, --max-steps, --save-every and --refresh-every must be >= 0")
    if args.temperature is not None and args.temperature <= 0:
        raise InputError("--temperature must be > 0")
    trainer = build(args)
    try:
        summary = trainer.train()
    except BaseException:
        trainer.close(finished=False)
        raise
    trainer.close()
    if trainer.rank == 0:
        print(json.dumps(summary), file=sys.stderr)
        print(f"trained {args.recipe}: {summary['steps']} steps in {summary['train_seconds']:.1f}s -> "
              f"{os.path.join(args.output, 'model')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
