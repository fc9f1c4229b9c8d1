"""Gradient cache (Gao et al., 2021): representations of the whole batch without a graph, the loss and its gradient
with respect to them, then each chunk re-encoded with its graph (same dropout, replayed RNG)."""
from __future__ import annotations

import random
from typing import Callable

import numpy as np
import torch

from .batches import Batch


def rng_state(device) -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _slice(d: dict, start: int, end: int) -> dict:
    return {k: v[start:end] for k, v in d.items()}


def backward_cached(batch: Batch, chunk: int, represent: Callable[[Batch], tuple],
                    loss_of: Callable[[tuple], torch.Tensor], scale: float, device) -> torch.Tensor:
    """The batch's loss (detached), its gradient accumulated chunk by chunk. ``represent`` encodes a (chunk of a)
    batch: a tuple of tensors with a fixed number of rows per group (or None); ``loss_of`` turns the whole batch's
    representations into the loss."""
    n = batch.queries["input_ids"].shape[0]
    group = (batch.passages["input_ids"].shape[0] // n) if batch.passages else 0
    spans = [(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    chunks = [Batch(batch.groups[a:b], _slice(batch.queries, a, b),
                    _slice(batch.passages, a * group, b * group) if group else {}) for a, b in spans]
    states, parts = [], []
    with torch.no_grad():
        for part in chunks:
            states.append(rng_state(device))
            parts.append(represent(part))
    reps = [torch.cat(col).requires_grad_() if col[0] is not None else None for col in zip(*parts)]
    loss = loss_of(tuple(reps))
    (loss * scale).backward()
    after = rng_state(device)
    for (a, b), part, state in zip(spans, chunks, states):
        set_rng_state(state, device)
        again = represent(part)
        grads = [(t, r.grad[a * (r.shape[0] // n):b * (r.shape[0] // n)])
                 for t, r in zip(again, reps) if r is not None]
        torch.autograd.backward([t for t, _ in grads], [g for _, g in grads])
    set_rng_state(after, device)
    return loss.detach()
