"""One process or several under ``torchrun``, with the same training code.

``torchrun --nproc_per_node N`` sets RANK, WORLD_SIZE and LOCAL_RANK; without them we run as rank 0 of
1 and every collective below is a no-op. Backend: nccl when training on CUDA, else gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from savos.errors import SavosError


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def pick_device(name: str, local_rank: int = 0, *, option: str) -> torch.device:
    """``name``: "auto" (cuda if available), "cpu" or "cuda"; cuda uses GPU ``local_rank``. ``option``
    is how the user of this command chooses it (``--device``, ``--set train.device``): the message
    suggests only that, so it names what works for the command at hand."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise SavosError(f"{option.split()[-1]}: cuda requested but no CUDA GPU is available; "
                             f"use {option}=cpu or auto")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def setup(device: str) -> Dist:
    """Join the process group if launched by torchrun; returns this process's rank, world and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank, option="--set train.device")
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank, world, dev)


def cleanup(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(x: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum over processes (in place; identity on one process)."""
    if d.enabled:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
