"""``python -m pyserini_dr.train --preset PAPER``: each preset sets its values (train/presets.py, with the authors'
file each comes from in SOURCES and docs/methods.md), and a flag given on the command line wins."""
from __future__ import annotations

from pathlib import Path

import pytest

from pyserini_dr.errors import InputError
from pyserini_dr.train.__main__ import parse_args
from pyserini_dr.train.presets import DEVIATIONS, PRESETS, SOURCES
from test_train import setup, train_argv  # noqa: F401  (test_train's tiny model and data: a fixture, a helper)

BASE = ["--model", "m", "--corpus", "c.jsonl", "--output", "out"]


def _dests() -> set[str]:
    from pyserini_dr.cli import ArgumentParser
    from pyserini_dr.train.options import add_train_args

    p = ArgumentParser()
    add_train_args(p)
    return {a.dest for a in p._actions}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_sets_its_values(name):
    assert set(PRESETS[name]) <= _dests(), "every preset value must be an option of the command"
    args = parse_args(["--preset", name] + BASE)
    assert {k: getattr(args, k) for k in PRESETS[name]} == PRESETS[name]
    assert name in SOURCES and name in DEVIATIONS


def test_the_issue_examples():
    star = parse_args(["--preset", "star"] + BASE)
    assert (star.recipe, star.lr, star.query_max_length, star.max_length) == ("star", 1e-4, 24, 120)
    adore = parse_args(["--preset", "adore"] + BASE)
    assert (adore.recipe, adore.lr, adore.batch_size, adore.weight_decay) == ("adore", 5e-6, 32, 0.01)


def test_an_explicit_flag_wins_over_the_preset():
    args = parse_args(["--preset", "star", "--lr", "3e-5", "--max-length", "200", "--recipe", "ance"] + BASE)
    assert (args.lr, args.max_length, args.recipe) == (3e-5, 200, "ance")
    assert (args.query_max_length, args.batch_size, args.weight_decay) == (24, 256, 0.01)  # the rest still the preset's
    plain = parse_args(["--recipe", "star"] + BASE)
    assert (plain.lr, plain.batch_size, plain.max_length, plain.warmup_steps) == (2e-5, 64, None, 0)


def test_a_recipe_or_a_preset_is_required():
    with pytest.raises(InputError, match="--recipe"):
        parse_args(BASE)
    with pytest.raises(InputError, match="invalid choice"):
        parse_args(["--preset", "colbert"] + BASE)


def test_every_preset_has_its_row_in_docs_methods():
    text = (Path(__file__).resolve().parents[1] / "docs" / "methods.md").read_text()
    for name, values in PRESETS.items():
        for key, value in values.items():
            assert f"| {name} | `{key}` | {value} |" in text, (name, key)



def test_warmup_steps_set_the_schedules_warm_up(setup, tmp_path):
    from pyserini_dr.train.__main__ import build

    for flags, warm in ((["--warmup-steps", "2"], 2), ([], 0)):  # train_argv gives --warmup-ratio 0
        trainer = build(parse_args(train_argv(setup, tmp_path / str(warm), "--batch-size", 8, *flags)))
        try:
            schedule = trainer.scheduler.lr_lambdas[0]
            assert [schedule(s) for s in range(warm)] == [s / warm for s in range(warm)]
            assert schedule(warm) == 1.0
        finally:
            trainer.close(finished=False)
