"""Named intermediate outputs, read without hooks on shared modules.

Every module of our nets runs once per forward (each block has its own activations
and parameter-free taps), so a forward hook on a named module sees exactly one tensor.
Names are module paths: "stem", "layer2", "layer2.0", "layer2.0.residual" (F(x)),
"layer2.0.identity" (x through the shortcut), "layer2.0.sum" (F(x) + x before the
ReLU), "layer2.0.bn1" (a BN's output, before its ReLU).

In a post-activation block `bn<i>` normalises `conv<i>`'s output; in a pre-activation
block (He et al. 2016b) `bn<i>` precedes `conv<i>`, so a convolution's response after BN
is the *next* BN's output, and the branch's last convolution has no BN of its own: its
output is F(x), the "residual" tap. `response_layer_names` applies exactly that rule.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from resnet_studio.core.errors import StudioError
from resnet_studio.core.models.resnet import ResNet


def intermediate_names(model: ResNet) -> list[str]:
    """Every readable output in forward order: stem, then per stage its blocks'
    BN outputs and taps, each block, and the stage itself (pre-act nets: then the
    final BN)."""
    names = ["stem"]
    for stage_name in model.stage_names:
        for index, block in enumerate(getattr(model, stage_name)):
            prefix = f"{stage_name}.{index}"
            names += [f"{prefix}.{layer}" for layer in block.branch_layers if layer.startswith("bn")]
            names.append(f"{prefix}.residual")
            if block.has_shortcut:
                names.append(f"{prefix}.identity")
            names += [f"{prefix}.sum", prefix]
        names.append(stage_name)
    if getattr(model, "preact", False):
        names.append("final_bn")  # the last stage's sum, normalised, before the final ReLU
    return names


def response_layer_names(model: ResNet) -> list[str]:
    """The 3x3 layers' responses (after BN, before ReLU) that the paper's Figure 7
    measures, in network order, the stem's first convolution included when it is 3x3.

    One name per 3x3 convolution: the BN that normalises its output next (each block
    class lists its own in `response_layers`). In a pre-act net the stem's BN is the
    first block's `bn1`, and a basic block's second 3x3 has none: its F(x) is taken as
    is (what enters the addition, as in the paper's "before ReLU/addition")."""
    stem_3x3 = isinstance(model.conv1, nn.Conv2d) and model.conv1.kernel_size == (3, 3)
    names = []
    if stem_3x3:
        names.append(f"{model.stage_names[0]}.0.bn1" if getattr(model, "preact", False) else "bn1")
    for stage_name in model.stage_names:
        for index, block in enumerate(getattr(model, stage_name)):
            names += [f"{stage_name}.{index}.{layer}" for layer in block.response_layers]
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
