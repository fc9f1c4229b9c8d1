"""Several GPUs under torchrun: one shard per rank, merged by rank 0 once every rank is done."""
from __future__ import annotations

import os


def distributed_shard() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) outside it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def merge_after_ranks(output: str, world: int, rank: int) -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")  # only a barrier is needed: gloo works on any machine
    dist.barrier()
    if rank == 0:
        from ..index.faiss_builder import merge_shards

        shards = [os.path.join(output, "shards", f"{r:03d}") for r in range(world)]
        merge_shards(shards, output)
    dist.barrier()
    dist.destroy_process_group()
