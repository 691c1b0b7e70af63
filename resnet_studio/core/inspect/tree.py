"""The layer tree of the Inspection panel: stem, stages, blocks, their layers and taps."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from resnet_studio.core.inspect._common import (
    as_batch,
    block_names,
    check_resnet,
    evaluating,
    is_bottleneck,
)
from resnet_studio.core.models import forward_intermediates

# kind of each node: "stem", "stage", "block", "conv", "bn", "relu", "pool", "tap",
# "shortcut" (a downsample/projection), "head" (pool + fc), "fc".
NODE_KINDS = ("stem", "stage", "block", "conv", "bn", "relu", "pool", "tap", "shortcut", "head", "fc")

_TAP_LABELS = {
    "residual": "F(x): residual branch",
    "identity": "x: shortcut",
    "sum": "F(x) + x, before ReLU",
}


@dataclass
class LayerNode:
    """One row of the tree. `name` is the module path that `activations` accepts
    (empty for the head, which has no feature map); `readable` says whether it has a
    feature map to show; `shape` is (C, H, W) when `layer_tree` got an input size."""

    name: str
    kind: str
    label: str
    readable: bool = True
    shape: tuple[int, int, int] | None = None
    children: list[LayerNode] = field(default_factory=list)

    def walk(self):
        """This node and all below it, depth first (tree order)."""
        yield self
        for child in self.children:
            yield from child.walk()


def layer_tree(model: nn.Module, input_size: int | None = None) -> list[LayerNode]:
    """The model's layers as a tree, in forward order.

    With `input_size` (pixels) every readable node gets its output shape from one
    forward pass of a blank image (about one inference's time).
    """
    check_resnet(model)
    roots = [_stem_node(model)]
    for stage in model.stage_names:
        blocks = [_block_node(model, name) for name in block_names(model) if name.startswith(f"{stage}.")]
        roots.append(LayerNode(stage, "stage", stage, children=blocks))
    roots.append(LayerNode("", "head", "head: global average pool + fc", readable=False, children=[
        LayerNode("avgpool", "pool", "avgpool", readable=False),
        LayerNode("fc", "fc", f"fc ({model.fc.in_features} -> {model.fc.out_features})", readable=False),
    ]))
    if input_size is not None:
        _fill_shapes(model, roots, input_size)
    return roots


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.BatchNorm2d):
        return "bn"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d | nn.AdaptiveAvgPool2d):
        return "pool"
    return "tap"


def _leaf(name: str, module: nn.Module) -> LayerNode:
    label = name.rsplit(".", 1)[-1]
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size, module.stride
        label += f" ({k[0]}x{k[1]}, {module.out_channels}" + (f", /{s[0]}" if s[0] > 1 else "") + ")"
    return LayerNode(name, _kind(module), label)


def _stem_node(model: nn.Module) -> LayerNode:
    children = []
    if isinstance(model.conv1, nn.Sequential):  # the deep stem of v1c/v1d
        children += [_leaf(f"conv1.{n}", m) for n, m in model.conv1.named_children()]
    else:
        children.append(_leaf("conv1", model.conv1))
    children += [_leaf("bn1", model.bn1), _leaf("relu", model.relu)]
    if not isinstance(model.maxpool, nn.Identity):
        children.append(_leaf("maxpool", model.maxpool))
    return LayerNode("stem", "stem", "stem", children=children)


def _block_node(model: nn.Module, name: str) -> LayerNode:
    block = model.get_submodule(name)
    branch = ["conv1", "bn1", "act1", "conv2", "bn2"]
    branch += ["act2", "conv3", "bn3"] if is_bottleneck(block) else []
    final_act = "act3" if is_bottleneck(block) else "act2"
    children = [_leaf(f"{name}.{n}", getattr(block, n)) for n in branch]
    children.append(LayerNode(f"{name}.residual", "tap", _TAP_LABELS["residual"]))
    if block.downsample is not None:
        short = LayerNode(f"{name}.downsample", "shortcut", "downsample (shortcut)")
        if isinstance(block.downsample, nn.Sequential):
            short.children = [_leaf(f"{name}.downsample.{n}", m) for n, m in block.downsample.named_children()
                              if not isinstance(m, nn.Identity)]
        children.append(short)
    if block.has_shortcut:
        children.append(LayerNode(f"{name}.identity", "tap", _TAP_LABELS["identity"]))
        children.append(LayerNode(f"{name}.sum", "tap", _TAP_LABELS["sum"]))
    else:  # plain: the "sum" tap holds the branch alone
        children.append(LayerNode(f"{name}.sum", "tap", "F(x), before ReLU (plain: no shortcut)"))
    children.append(_leaf(f"{name}.{final_act}", getattr(block, final_act)))
    kind = "residual" if block.has_shortcut else "plain"
    return LayerNode(name, "block", f"{name} ({kind} {type(block).__name__})", children=children)


def _fill_shapes(model: nn.Module, roots: list[LayerNode], input_size: int) -> None:
    nodes = [node for root in roots for node in root.walk() if node.readable and node.name]
    x = torch.zeros(1, 3, input_size, input_size)
    with evaluating(model), torch.inference_mode():
        _, outputs = forward_intermediates(model, as_batch(model, x, single=True), [n.name for n in nodes])
    for node in nodes:
        if node.name in outputs and outputs[node.name].ndim == 4:
            node.shape = tuple(int(s) for s in outputs[node.name].shape[1:])
