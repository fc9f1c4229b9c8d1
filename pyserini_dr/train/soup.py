"""Weight averaging of fine-tuned checkpoints of one model ("model soups", Wortsman et al., ICML 2022; WiSE-FT,
Wortsman et al., CVPR 2022): the weighted mean of every floating-point tensor, the rest of the first checkpoint kept.

    python -m pyserini_dr.train.soup --models DIR [DIR ...] [--weights W ...] [--tower both|query] --output DIR

Checkpoints fine-tuned from the same start average into a model that often generalises better than each: seeds of
one recipe (a uniform soup), or a memorising and a generalising model (an interpolation, weights picked on a dev
split). ``--tower query`` averages only the query encoders: the first checkpoint must have separate towers (ADORE's
query encoder over frozen passage vectors), whose passage encoder, and so whose index, is kept unchanged.
"""
from __future__ import annotations

import glob
import math
import os
import shutil
import sys

from ..cli import ArgumentParser, finite, run_main
from ..files import atomic_directory, refuse_foreign_directory
from ..encode.encoder import TOWERS
from ..encode.settings import SETTINGS_FILE, saved_settings
from ..errors import InputError


def tower_directory(model: str, tower: str) -> str:
    """Where a checkpoint keeps one tower's weights: its ``query_encoder/`` or ``passage_encoder/`` sub-folder when
    the towers are separate, else the checkpoint itself (one tied encoder serves both)."""
    sub = os.path.join(model, TOWERS[0] if tower == "query" else TOWERS[1])
    return sub if os.path.isdir(sub) else model


def weight_files(directory: str) -> list[str]:
    """The safetensors files of one encoder (one file, or the shards of a large model), by name."""
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.safetensors")))
    if not names:
        raise InputError(f"{directory}: no *.safetensors weights (save the model with save_pretrained)")
    return names


def average_weights(directories: list[str], weights: list[float], output: str) -> int:
    """Write into ``output`` each safetensors file of the first directory with every floating-point tensor replaced
    by ``sum(w_i x tensor_i)`` (computed in float32, stored in the first model's dtype); returns the tensors averaged.
    Every directory must hold the same files, tensor names and shapes."""
    import torch
    from safetensors.torch import load_file, save_file

    names = weight_files(directories[0])
    averaged = 0
    for directory in directories[1:]:
        if weight_files(directory) != names:
            raise InputError(f"{directory} holds other weight files than {directories[0]}: {names}")
    for name in names:
        states = [load_file(os.path.join(d, name)) for d in directories]
        first = states[0]
        for directory, state in zip(directories[1:], states[1:]):
            missing = sorted(k for k in first if k not in state or state[k].shape != first[k].shape)
            if missing:
                raise InputError(f"{directory}/{name} is another architecture: {missing[0]} is missing or has "
                                 f"another shape than in {directories[0]}")
        mixed = {}
        for key, tensor in first.items():
            if tensor.is_floating_point():
                total = sum(w * s[key].to(torch.float32) for w, s in zip(weights, states))
                mixed[key] = total.to(tensor.dtype)
                averaged += 1
            else:  # integer buffers (position ids) are not weights
                mixed[key] = tensor
        save_file(mixed, os.path.join(output, name), metadata={"format": "pt"})
    return averaged


def soup(models: list[str], output: str, weights: list[float] | None = None, tower: str = "both") -> int:
    """Average ``models`` into ``output`` (written whole or not at all); returns the number of tensors averaged."""
    if len(models) < 2:
        raise InputError("a soup needs at least two --models")
    out = os.path.abspath(output)
    for model in models:
        if not os.path.isdir(model):
            raise InputError(f"{model} is not a checkpoint directory")
        if os.path.commonpath([out, os.path.abspath(model)]) in (out, os.path.abspath(model)):
            raise InputError(f"--output {output} must be neither one of the --models nor inside or around one "
                             f"({model})")
    weights = [1.0 / len(models)] * len(models) if weights is None else list(weights)
    if len(weights) != len(models):
        raise InputError(f"{len(weights)} --weights for {len(models)} --models")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise InputError(f"--weights must be non-negative and sum to 1, got {weights}")
    saved = [(m, saved_settings(m)) for m in models]
    saved = [(m, x) for m, x in saved if x is not None]  # a hub checkpoint (the pre-trained start) has none
    for model, settings in saved[1:]:
        if settings != saved[0][1]:  # pooling, normalization or lengths that differ make the mean meaningless
            raise InputError(f"{model} has other encoder settings ({SETTINGS_FILE}) than {saved[0][0]}")
    split = os.path.isdir(os.path.join(models[0], TOWERS[0]))
    for model in models[1:]:
        if tower == "both" and os.path.isdir(os.path.join(model, TOWERS[0])) != split:
            raise InputError(f"{model} and {models[0]} are laid out differently (one has {TOWERS[0]}/ and "
                             f"{TOWERS[1]}/, the other one encoder); --tower query averages query encoders alone")
    if tower == "query" and not split:
        raise InputError(f"--tower query needs a first model with separate towers ({TOWERS[0]}/, {TOWERS[1]}/); "
                         f"{models[0]} has one encoder")
    towers = ["query"] if tower == "query" else (["query", "passage"] if split else [None])
    refuse_foreign_directory(output)  # never replaces a directory (a model, an index) it did not create
    averaged = 0
    with atomic_directory(output) as tmp:
        shutil.copytree(models[0], tmp, dirs_exist_ok=True)  # tokenizer, config, settings, an unchanged tower
        for t in towers:
            sources = [tower_directory(m, t) if t else m for m in models]
            target = os.path.join(tmp, os.path.relpath(sources[0], models[0]))
            averaged += average_weights(sources, weights, target)
    return averaged


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m pyserini_dr.train.soup", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", required=True, help="checkpoint directories fine-tuned from one start")
    p.add_argument("--weights", nargs="+", type=finite, help="one per model, summing to 1 (default: uniform)")
    p.add_argument("--tower", choices=["both", "query"], default="both",
                   help="query: average only the query encoders; the first model's passage encoder is kept")
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    count = soup(args.models, args.output, args.weights, args.tower)
    print(f"averaged {count} tensors of {len(args.models)} models -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
