"""The one layer-tree builder: `LayerNode`s for the Inspection panel and the Model panel.

Two arrangements of the same nodes, described by the same helpers:
- `layer_tree`: forward order as the paper draws it (stem, stages, blocks with their
  layers and the F(x) / x / F(x) + x taps, head), for reading feature maps;
- `module_tree`: the model's named modules as they nest in a state_dict
  (conv1, layer1 > layer1.0 > conv1, fc), with parameter counts, for the Model panel.
Each node built from a module gets `text` (its one-line description in the paper's
notation) and `params` from `_node`, so both trees describe a module the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from resnet_studio.core.inspect._common import (
    as_batch,
    block_names,
    check_resnet,
    evaluating,
)
from resnet_studio.core.models import forward_intermediates

# kind of each node: "stem", "stage", "block", "conv", "bn", "relu", "pool", "tap",
# "shortcut" (a downsample/projection), "head" (pool + fc), "fc".
# "module": any other container (module_tree only).
NODE_KINDS = ("stem", "stage", "block", "conv", "bn", "relu", "pool", "tap", "shortcut", "head", "fc",
              "module")  # fmt: skip

_TAP_LABELS = {
    "residual": "F(x): residual branch",
    "identity": "x: shortcut",
}


@dataclass
class LayerNode:
    """One row of the tree. `name` is the module path that `activations` accepts
    (empty for the head, which has no feature map); `readable` says whether it has a
    feature map to show; `shape` is (C, H, W) when `layer_tree` got an input size;
    `text` describes the module ("Conv2d 3×3, 16→16") and `params` counts its
    parameters (0 for taps and the like)."""

    name: str
    kind: str
    label: str
    readable: bool = True
    shape: tuple[int, int, int] | None = None
    children: list[LayerNode] = field(default_factory=list)
    text: str = ""
    params: int = 0

    @property
    def attribute(self) -> str:
        """The last part of the path: "conv1" for "layer1.0.conv1", "0" for "layer1.0"."""
        return self.name.rsplit(".", 1)[-1]

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
        roots.append(_node(stage, "stage", stage, model.get_submodule(stage), children=blocks))
    head = []
    if getattr(model, "preact", False):  # 2016b: the final BN-ReLU before the pool
        head += [_leaf("final_bn", model.final_bn), _leaf("final_act", model.final_act)]
    roots.append(LayerNode("", "head", "head: global average pool + fc", readable=False, children=[
        *head,
        _node("avgpool", "pool", "avgpool", model.avgpool, readable=False),
        _node("fc", "fc", f"fc ({model.fc.in_features} -> {model.fc.out_features})", model.fc, readable=False),
    ]))
    if input_size is not None:
        _fill_shapes(model, roots, input_size)
    return roots


def module_tree(model: nn.Module) -> list[LayerNode]:
    """The model's named modules as they nest (state_dict order), each with its
    description and parameter count. Works on the meta device: nothing is computed."""
    check_resnet(model)
    stages = set(model.stage_names)
    return _module_children(model, "", stages)


def _module_children(module: nn.Module, prefix: str, stages: set[str]) -> list[LayerNode]:
    nodes = []
    for attribute, child in module.named_children():
        path = f"{prefix}{attribute}"
        kind = "stage" if path in stages else ("shortcut" if attribute == "downsample" else _kind(child))
        label = path if attribute.isdigit() else attribute  # "layer1.0", as in state_dicts
        node = _node(path, kind, label, child, readable=False)
        node.children = _module_children(child, f"{path}.", stages)
        nodes.append(node)
    return nodes


def _node(name: str, kind: str, label: str, module: nn.Module, **kwargs) -> LayerNode:
    """A node for `module`: its description and parameter count filled in."""
    params = sum(p.numel() for p in module.parameters())
    return LayerNode(name, kind, label, text=describe_module(module), params=params, **kwargs)


def describe_module(module: nn.Module) -> str:
    """A one-line description of a module, in the paper's notation where there is one."""
    kind = type(module).__name__
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size[0], module.stride[0]
        text = f"Conv2d {k}×{k}, {module.in_channels}→{module.out_channels}"
        return text + (f", stride {s}" if s > 1 else "")
    if isinstance(module, nn.BatchNorm2d):
        return f"BatchNorm2d({module.num_features})"
    if isinstance(module, nn.Linear):
        return f"Linear {module.in_features}→{module.out_features}"
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        return f"{kind} {k}×{k}, stride {s}"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global average pool"
    if isinstance(module, nn.Sequential):
        return f"Sequential ({len(module)})"
    return kind


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.BatchNorm2d):
        return "bn"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.MaxPool2d | nn.AvgPool2d | nn.AdaptiveAvgPool2d):
        return "pool"
    if isinstance(module, nn.Linear):
        return "fc"
    if hasattr(module, "has_shortcut"):  # our residual and plain blocks
        return "block"
    if isinstance(module, nn.Identity):
        return "tap"
    return "module"


def _leaf(name: str, module: nn.Module) -> LayerNode:
    label = name.rsplit(".", 1)[-1]
    if isinstance(module, nn.Conv2d):
        k, s = module.kernel_size, module.stride
        label += f" ({k[0]}x{k[1]}, {module.out_channels}" + (f", /{s[0]}" if s[0] > 1 else "") + ")"
    kind = _kind(module)
    return _node(name, "tap" if kind in ("module", "fc", "block") else kind, label, module)


def _stem_node(model: nn.Module) -> LayerNode:
    children = []
    if isinstance(model.conv1, nn.Sequential):  # the deep stem of v1c/v1d
        children += [_leaf(f"conv1.{n}", m) for n, m in model.conv1.named_children()]
    else:
        children.append(_leaf("conv1", model.conv1))
    # a pre-act stem is the convolution alone (its bn1 and relu are placeholders)
    children += [_leaf(n, getattr(model, n)) for n in ("bn1", "relu")
                 if not isinstance(getattr(model, n), nn.Identity)]  # fmt: skip
    if not isinstance(model.maxpool, nn.Identity):
        children.append(_leaf("maxpool", model.maxpool))
    return LayerNode("stem", "stem", "stem", children=children)


def _block_node(model: nn.Module, name: str) -> LayerNode:
    block = model.get_submodule(name)
    children = [_leaf(f"{name}.{n}", getattr(block, n)) for n in block.branch_layers]
    children.append(LayerNode(f"{name}.residual", "tap", _TAP_LABELS["residual"]))
    if block.downsample is not None:
        short = LayerNode(f"{name}.downsample", "shortcut", "downsample (shortcut)")
        if isinstance(block.downsample, nn.Sequential):
            short.children = [_leaf(f"{name}.downsample.{n}", m) for n, m in block.downsample.named_children()
                              if not isinstance(m, nn.Identity)]
        children.append(short)
    # pre-act blocks (2016b) end at the addition: no ReLU after it
    after = "before ReLU" if block.output_act else "the block's output (pre-act: no ReLU after)"
    if block.has_shortcut:
        children.append(LayerNode(f"{name}.identity", "tap", _TAP_LABELS["identity"]))
        children.append(LayerNode(f"{name}.sum", "tap", f"F(x) + x, {after}"))
    else:  # plain: the "sum" tap holds the branch alone
        children.append(LayerNode(f"{name}.sum", "tap", f"F(x), {after} (plain: no shortcut)"))
    if block.output_act:
        children.append(_leaf(f"{name}.{block.output_act}", getattr(block, block.output_act)))
    kind = "residual" if block.has_shortcut else "plain"
    return _node(name, "block", f"{name} ({kind} {type(block).__name__})", block, children=children)


def _fill_shapes(model: nn.Module, roots: list[LayerNode], input_size: int) -> None:
    nodes = [node for root in roots for node in root.walk() if node.readable and node.name]
    x = torch.zeros(1, 3, input_size, input_size)
    with evaluating(model), torch.inference_mode():
        _, outputs = forward_intermediates(model, as_batch(model, x, single=True), [n.name for n in nodes])
    for node in nodes:
        if node.name in outputs and outputs[node.name].ndim == 4:
            node.shape = tuple(int(s) for s in outputs[node.name].shape[1:])
