"""A training run's files: the checkpoint (model, optimizer, scheduler, RNG and recipe state; exact resume), the
check that a checkpoint continues only the run that wrote it, and the logs a resumed run writes again."""
from __future__ import annotations

import json
import os

import torch

from ..errors import InputError
from ..files import atomic_directory, atomic_write

CHECKPOINT_DIR = "checkpoint"
MODEL_DIR = "model"
BEST_DIR = "best"
LOG_FILE = "train_log.jsonl"
DEV_LOG_FILE = "dev_log.jsonl"
STATE_FILE = "state.pt"
NOT_COMPARED = {"output", "log_every", "save_every", "save_minutes", "keep_best"}  # settings a resume may change


def save_state(output: str, state: dict) -> None:
    """A crash leaves checkpoint/ or checkpoint.old/."""
    with atomic_directory(os.path.join(output, CHECKPOINT_DIR)) as tmp:
        torch.save(state, os.path.join(tmp, STATE_FILE))


def load_state(output: str) -> tuple[dict, str] | None:
    """(the checkpoint's state, its path), or None where the run has none."""
    path = os.path.join(output, CHECKPOINT_DIR, STATE_FILE)
    if not os.path.isfile(path):
        path = os.path.join(output, CHECKPOINT_DIR + ".old", STATE_FILE)  # killed while replacing the checkpoint
    if not os.path.isfile(path):
        return None
    return torch.load(path, map_location="cpu", weights_only=False), path


def check_same_run(state: dict, config: dict, recipe_name: str, path: str) -> None:
    """A checkpoint continues only the run that wrote it: other settings would not give its loss curve."""
    saved = {k: v for k, v in state["config"].items() if k not in NOT_COMPARED}
    now = {k: v for k, v in config.items() if k not in NOT_COMPARED}
    saved["recipe"], now["recipe"] = state.get("recipe_name"), recipe_name
    changed = [f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(saved) | set(now))
               if saved.get(k) != now.get(k)]
    if changed:
        raise InputError(f"{os.path.dirname(path)} continues a run with other settings ({', '.join(changed)}): "
                         "rerun with the same ones, or pick another --output")


def truncate_logs(output: str, step: int) -> None:
    """Drop log lines written after the checkpoint's ``step``: the resumed run writes them again."""
    for name in (LOG_FILE, DEV_LOG_FILE):
        path = os.path.join(output, name)
        if not os.path.isfile(path):
            continue
        records = []
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:  # a line torn by the kill
                    pass
        keep = [json.dumps(r) + "\n" for r in records if r.get("step", 0) <= step and "summary" not in r]
        with atomic_write(path) as f:
            f.writelines(keep)
