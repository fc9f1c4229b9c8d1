"""DDP under torchrun: the process group, gathering representations across ranks, summing gradients.

Every rank builds the same global batch (the sampler is seeded), encodes its contiguous slice, gathers all
representations (its own keep their gradient) and computes the loss on the whole batch, so in-batch negatives span
all ranks; gradients are summed across ranks, which equals one process training on the whole batch (a test checks
it with two gloo processes).
"""
from __future__ import annotations

import os

import torch


def init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("PYSERINI_DR_BACKEND") != "gloo" else "gloo"
        if backend == "nccl":  # collectives and barriers on this rank's GPU, not cuda:0
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def gather(t: torch.Tensor, world: int, rank: int) -> torch.Tensor:
    """All ranks' rows in rank order; this rank's rows keep their gradient."""
    if world == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world)]
    torch.distributed.all_gather(parts, t.detach().contiguous())
    parts[rank] = t
    return torch.cat(parts)


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights (a newly initialised head differs per rank)."""
    for p in model.parameters():
        torch.distributed.broadcast(p.data, 0)


def sum_gradients(params: list) -> None:
    """One flat all-reduce (sum: each rank holds its slice's share of d(loss)); a missing gradient counts as zero, so
    all ranks reduce the same buffer, and stays missing (the optimizer skips it) only where every rank had none: the
    same decision on every rank."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads]
                     + [torch.tensor([float(p.grad is not None) for p in params], device=grads[0].device)])
    torch.distributed.all_reduce(flat)
    had = flat[-len(params):] > 0
    offset = 0
    for i, (p, g) in enumerate(zip(params, grads)):
        if had[i]:
            p.grad = flat[offset:offset + g.numel()].view_as(g)
        offset += g.numel()
