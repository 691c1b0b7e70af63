"""Named intermediate outputs, read without hooks on shared modules.

Every module of our nets runs once per forward (each block has its own activations
and parameter-free taps), so a forward hook on a named module sees exactly one tensor.
Names are module paths: "stem", "layer2", "layer2.0", "layer2.0.residual" (F(x)),
"layer2.0.identity" (x through the shortcut), "layer2.0.sum" (F(x) + x before the
ReLU), "layer2.0.bn1" (a conv's response after BN, before ReLU).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.models.blocks import Bottleneck
from resnet_studio.core.models.resnet import ResNet


def intermediate_names(model: ResNet) -> list[str]:
    """Every readable output in forward order: stem, then per stage its blocks'
    conv responses and taps, each block, and the stage itself."""
    names = ["stem"]
    for stage_name in model.stage_names:
        for index, block in enumerate(getattr(model, stage_name)):
            prefix = f"{stage_name}.{index}"
            bns = ["bn1", "bn2", "bn3"] if isinstance(block, Bottleneck) else ["bn1", "bn2"]
            names += [f"{prefix}.{bn}" for bn in bns]
            names.append(f"{prefix}.residual")
            if block.has_shortcut:
                names.append(f"{prefix}.identity")
            names += [f"{prefix}.sum", prefix]
        names.append(stage_name)
    return names


def response_layer_names(model: ResNet) -> list[str]:
    """The 3x3 layers' responses (after BN, before ReLU) that the paper's Figure 7
    measures, in network order, the stem's first convolution included when it is 3x3."""
    names = ["bn1"] if isinstance(model.conv1, nn.Conv2d) and model.conv1.kernel_size == (3, 3) else []
    for stage_name in model.stage_names:
        for index, block in enumerate(getattr(model, stage_name)):
            three_by_three = ["bn2"] if isinstance(block, Bottleneck) else ["bn1", "bn2"]
            names += [f"{stage_name}.{index}.{bn}" for bn in three_by_three]
    return names


def forward_intermediates(
    model: nn.Module,
    x: torch.Tensor,
    names: Iterable[str],
    *,
    keep_graph: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run the model once; return its output and the named intermediate tensors.

    By default the tensors are detached copies (later in-place ReLUs would otherwise
    change what was recorded). With `keep_graph=True` they stay in the autograd graph,
    for Grad-CAM; only take outputs that no in-place op touches then (stages, blocks).
    """
    modules = dict(model.named_modules())
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in modules or name == ""]
    if unknown:
        raise StudioError(
            f"no layer named {', '.join(map(repr, unknown[:5]))} in this model; "
            "choose one of the layer tree's names, e.g. 'layer1.0' or 'layer4'"
        )
    captured: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            captured[name] = output if keep_graph else output.detach().clone()

        return hook

    handles = [modules[name].register_forward_hook(recorder(name)) for name in wanted]
    try:
        output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return output, {name: captured[name] for name in wanted if name in captured}
