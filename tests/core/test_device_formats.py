"""The automatic training formats: bf16 autocast where the hardware has it, channels_last
on the CPU and CUDA, and what a recipe says always wins."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_studio.core import device as device_module
from resnet_studio.core.device import fast_layout, native_bf16, training_formats
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import open_run
from resnet_studio.core.train import train

CPU = torch.device("cpu")


def test_the_recipe_wins_over_the_automatic_choice():
    assert training_formats(CPU, False, False) == (False, False)
    assert training_formats(CPU, True, True) == (True, True)


def test_automatic_bf16_follows_the_cpu_probe(monkeypatch):
    for native in (True, False):
        monkeypatch.setattr(device_module, "native_bf16", lambda _device, n=native: n)
        assert training_formats(CPU, None, None) == (native, True)


def test_the_probe_reads_the_cpu_features(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert native_bf16(CPU) is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert native_bf16(CPU) is True
    assert native_bf16(torch.device("meta")) is False


def test_channels_last_on_the_cpu_but_not_elsewhere():
    assert fast_layout(CPU) == torch.channels_last
    assert fast_layout(torch.device("mps")) == torch.contiguous_format


@pytest.mark.parametrize("amp", [True, False])
def test_a_run_trains_in_the_format_it_asked_for(tmp_path, monkeypatch, amp):
    """bf16 autocast on the CPU really runs the convolutions in bf16 (and fp32 does
    not), and the run records finite losses."""
    seen: set[torch.dtype] = set()
    original = torch.nn.Conv2d._conv_forward

    def spy(self, x, weight, bias):  # noqa: ANN001, ANN202
        out = original(self, x, weight, bias)
        seen.add(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", spy)
    recipe = get_recipe("quick").with_overrides(
        image_size=8, batch_size=32, val_size=64, iterations=30, milestones=(25,), lr=0.05,
        eval_every=30, log_every=5, checkpoint_every=30, amp=amp, seed=1,
    )  # fmt: skip
    [result] = train(["cifar-resnet8"], recipe, runs_dir=tmp_path)
    assert result.status == "finished"
    losses = [r["loss"] for r in open_run(result.name, tmp_path).read_metrics()]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    assert seen == ({torch.bfloat16} if amp else {torch.float32})
