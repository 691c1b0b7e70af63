"""What a network is: parameters, FLOPs and a Table-1-style stage table.

Counted on the meta device, so even cifar-resnet1202 or resnet152 costs no memory and
a few milliseconds; FLOPs come from `torch.utils.flop_counter` and are reported as
multiply-accumulates, as torchvision's tables do (resnet50: 4.09 G). `ModelInfo` and
`StageInfo` live in the torch-free `core.model_table`, which holds these numbers
precomputed for every listed network (`scripts/model_table.py` writes them from here).
"""

from __future__ import annotations

import functools

import torch
from torch.utils.flop_counter import FlopCounterMode

from resnet_studio.core.catalog import ModelSpec, parse_name, resolve_shortcut
from resnet_studio.core.model_table import ModelInfo, StageInfo, build_info
from resnet_studio.core.models.registry import create_model
from resnet_studio.core.models.resnet import ResNet


def model_info(
    name: str,
    num_classes: int | None = None,
    *,
    shortcut: str | None = None,
) -> ModelInfo:
    """Describe a zoo network (the options change params and FLOPs, so they count)."""
    spec = parse_name(name)
    return _model_info(spec.name, num_classes or spec.num_classes, resolve_shortcut(spec, shortcut))


@functools.lru_cache(maxsize=256)
def _model_info(name: str, num_classes: int, shortcut: str | None) -> ModelInfo:
    spec = parse_name(name)
    with torch.device("meta"):
        model = create_model(name, num_classes, shortcut=None if spec.plain else shortcut)
    stages = _measure_stages(model, spec)
    return build_info(spec, num_classes, shortcut, _params(model), stages)


def _measure_stages(model: ResNet, spec: ModelSpec) -> tuple[StageInfo, ...]:
    """Count FLOPs stage by stage on the meta device.

    Blocks of the same configuration at the same input shape cost the same, so each
    distinct one is counted once: cifar-resnet1202's 600 blocks are 6 measurements.
    """
    x = torch.empty(1, 3, spec.input_size, spec.input_size, device="meta")
    stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    stem_macs, x = _count_macs(stem, x)
    stages = [_stage_info("stem", stem, 0, x, stem_macs)]
    cache: dict[tuple[str, tuple[int, ...]], tuple[int, torch.Size]] = {}
    for name in model.stage_names:
        stage = getattr(model, name)
        stage_macs = 0
        for block in stage:
            key = (repr(block), tuple(x.shape))
            if key not in cache:
                macs, out = _count_macs(block, x)
                cache[key] = macs, out.shape
            macs, shape = cache[key]
            stage_macs += macs
            x = torch.empty(shape, device="meta")
        stages.append(_stage_info(name, stage, len(stage), x, stage_macs))
    # pre-act nets: the final BN-ReLU belongs to the head (Identity elsewhere)
    head = torch.nn.Sequential(model.final_bn, model.final_act, model.avgpool, torch.nn.Flatten(1), model.fc)
    head_macs, x = _count_macs(head, x)
    stages.append(StageInfo("head", 1, 0, x.shape[1], _params(head), head_macs))
    return tuple(stages)


def _count_macs(module: torch.nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    counter = FlopCounterMode(display=False)
    with counter:
        out = module(x)
    return counter.get_total_flops() // 2, out


def _stage_info(name: str, module: torch.nn.Module, blocks: int, out: torch.Tensor, macs: int) -> StageInfo:
    return StageInfo(name, out.shape[-1], blocks, out.shape[1], _params(module), macs)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
