"""PyTorch DDP under `torchrun`: who we are, and the few collective calls we need.

`torchrun --nproc_per_node=N -m resnet_studio train ...` sets RANK, WORLD_SIZE and
LOCAL_RANK; without them everything here is a no-op for a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes the run store and prints."""
        return self.rank == 0


def init_from_env(device_name: str) -> tuple[DistContext, str]:
    """Join the process group torchrun set up; returns the context and the device
    name this rank should use (its own GPU on CUDA).

    `auto` or `cuda` gives rank i GPU LOCAL_RANK and NCCL. An explicit `cuda:N` keeps
    every rank on that one GPU and uses gloo, which all-reduces CUDA tensors through
    the host: NCCL refuses two ranks on one GPU, and this is how bench/gpu.sh runs its
    two-rank DDP check on a one-GPU machine."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), device_name
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    elif device_name == "auto":
        device_name = "cpu"
    return DistContext(rank, world_size, local_rank), device_name


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_agree(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank if any rank says True (stop requests, divergence)."""
    if not ctx.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def shutdown(ctx: DistContext) -> None:
    """Leave the group together: a rank that exits while rank 0 still writes its
    checkpoint would otherwise tear the group down under it (gloo aborts)."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
