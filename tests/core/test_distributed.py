"""core.distributed.init_from_env: which backend and device each rank gets."""

import pytest
import torch
import torch.distributed as dist

from resnet_studio.core import distributed


@pytest.fixture
def second_rank_with_cuda(monkeypatch):
    """Rank 1 of 2 under torchrun on a machine that has CUDA (faked: no GPU needed)."""
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(key, value)
    calls: dict[str, list] = {"backend": [], "set_device": []}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: calls["backend"].append(backend))
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls["set_device"].append(index))
    return calls


def test_cuda_gives_each_rank_its_own_gpu_with_nccl(second_rank_with_cuda):
    ctx, device = distributed.init_from_env("cuda")
    assert (ctx.rank, ctx.world_size, ctx.local_rank) == (1, 2, 1)
    assert device == "cuda:1"
    assert second_rank_with_cuda == {"backend": ["nccl"], "set_device": [1]}


def test_an_explicit_gpu_keeps_both_ranks_on_it_with_gloo(second_rank_with_cuda):
    """bench/gpu.sh part (d) on a one-GPU machine relies on this: NCCL refuses two
    ranks on one GPU, gloo takes CUDA tensors."""
    ctx, device = distributed.init_from_env("cuda:0")
    assert ctx.world_size == 2 and device == "cuda:0"
    assert second_rank_with_cuda == {"backend": ["gloo"], "set_device": []}


def test_one_process_needs_no_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init_from_env("auto") == (distributed.DistContext(), "auto")
