"""``python -m pyserini_dr.train``'s option groups as typed records, and their flags: the data and model
(``DataOptions``), the trainer's optimisation (``OptimOptions``) and each recipe's own (its ``options_class``, whose
fields carry their flags; ``add_recipe_args`` registers every recipe's, once each)."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from ..cli import device, fraction, non_negative, non_negative_real, positive, positive_real
from .presets import PRESETS
from .recipes import RECIPES


@dataclass
class DataOptions:
    """What is trained, on what, and where it goes."""
    recipe: str
    model: str
    output: str
    encoder_class: str | None = None
    train_data: str | None = None
    corpus: str | None = None
    dataset: str | None = None
    dev_data: str | None = None
    query_max_length: int | None = None
    max_length: int | None = None
    device: str | None = None


@dataclass
class OptimOptions:
    """The trainer's optimisation; ``temperature`` None: the recipe's for an L2-normalized model (0.05; simlm
    0.02), else 1."""
    epochs: int = 3
    batch_size: int = 64
    negatives: int = 1
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    grad_accum: int = 1
    grad_cache_chunk: int = 0
    bf16: bool = False
    temperature: float | None = None
    seed: int = 42
    max_steps: int = 0
    log_every: int = 10
    save_every: int = 0
    save_minutes: float = 10.0
    keep_best: bool = False


def add_data_args(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument("--recipe", choices=sorted(RECIPES), help="required, unless --preset names it")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="a paper's settings (train/presets.py, docs/methods.md); flags given here win")
    p.add_argument("--model", required=True, help="HF model name or checkpoint directory to start from")
    p.add_argument("--encoder-class", help="model family (default: guessed, or the checkpoint's saved settings)")
    p.add_argument("--train-data", help="training groups (python -m pyserini_dr.train.negatives); simlm-pretrain "
                   "reads the corpus instead")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="corpus jsonl the document ids refer to")
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    p.add_argument("--output", required=True, help="directory: model/, checkpoint/, train_log.jsonl")
    p.add_argument("--dev-data", help="dev groups (same format) for the evaluation hook")


def add_optim_args(parser: argparse.ArgumentParser) -> None:
    """The "optimization" group (with the data lengths and the device, where the command's help has always shown
    them)."""
    g = parser.add_argument_group("optimization")
    g.add_argument("--epochs", type=positive, default=3)
    g.add_argument("--batch-size", type=positive, default=64, help="queries per micro-batch (in-batch negatives)")
    g.add_argument("--negatives", type=non_negative, default=1, help="hard negatives per query")
    g.add_argument("--lr", type=non_negative_real, default=2e-5)
    g.add_argument("--warmup-ratio", type=fraction, default=0.1)
    g.add_argument("--warmup-steps", type=non_negative, default=0,
                   help="linear warm-up over this many optimizer steps (0: --warmup-ratio of the steps)")
    g.add_argument("--weight-decay", type=non_negative_real, default=0.0)
    g.add_argument("--max-grad-norm", type=non_negative_real, default=1.0)
    g.add_argument("--grad-accum", type=positive, default=1)
    g.add_argument("--grad-cache-chunk", type=non_negative, default=0, help="encode the batch in chunks of this many queries")
    g.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    g.add_argument("--temperature", type=positive_real, default=None,
                   help="score = q.p / temperature (default for an L2-normalized model 0.05, simlm "
                        "0.02; else 1)")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--max-steps", type=non_negative, default=0)
    g.add_argument("--log-every", type=positive, default=10)
    g.add_argument("--save-every", type=non_negative, default=0,
                   help="steps between checkpoints (default: every --save-minutes, and at the end)")
    g.add_argument("--save-minutes", type=non_negative_real, default=10.0)
    g.add_argument("--keep-best", action="store_true", help="keep the best dev checkpoint under OUTPUT/best")
    g.add_argument("--query-max-length", type=positive)
    g.add_argument("--max-length", type=positive, help="max passage tokens")
    g.add_argument("--device", type=device, default=None)


def recipe_fields() -> list[dataclasses.Field]:
    """Every recipe option, once (the first recipe to declare it gives its flag), in ``RECIPES`` order."""
    seen: dict[str, dataclasses.Field] = {}
    for recipe in RECIPES.values():
        for f in dataclasses.fields(recipe.options_class):
            seen.setdefault(f.name, f)
    return list(seen.values())


def add_recipe_args(parser: argparse.ArgumentParser) -> None:
    r = parser.add_argument_group("recipe")
    for f in recipe_fields():
        r.add_argument("--" + f.name.replace("_", "-"), default=f.default, **f.metadata["argparse"])


def add_train_args(parser: argparse.ArgumentParser) -> None:
    add_data_args(parser)
    add_optim_args(parser)
    add_recipe_args(parser)
