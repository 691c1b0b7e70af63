"""Per-layer gradient norms over a log window, accumulated on the training device.

Why: the paper (§4.1) argues that its plain nets, trained with BN, do not suffer from
vanishing gradients ("we also verify that the backward propagated gradients exhibit
healthy norms with BN"), so their degradation is an optimisation difficulty. The norm
of each weighted layer's gradient along the depth, for a plain net beside its ResNet
twin, lets a user check that while they train.

Cost: after each backward, one `torch._foreach_norm` over the weights' gradients (a
few fused kernels) added into a preallocated device tensor; nothing reaches the host
until the trainer's one sync per window, where the sums ride along with the loss
(`RunTrainer.log`). Under DDP the gradients are already all-reduced after backward,
so every rank holds the same norms and they need no reduction.

The layers are the convolutions and the fully connected layer, in module order
(`layer_names`); a projection shortcut (a conv inside a block's `downsample`, Table 3
option B/C) is recorded but has no depth of its own (`layer_depths`): depth counts
the weighted layers a signal passes on the main path, as the paper's "20 layers" do.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GradientNorms", "layer_depths", "recorded_layers"]

SHORTCUT_MODULE = "downsample"  # torchvision's name for a block's projection shortcut


def recorded_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The (name, weight) of every conv and linear layer of `model`, in module order."""
    return [(name, module.weight) for name, module in model.named_modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))]  # fmt: skip


def layer_depths(names: list[str]) -> list[int | None]:
    """Each layer's depth on the main path, 1-based (conv1 is 1, the fc the last);
    None for projection shortcuts, which sit beside the path, not on it."""
    depths: list[int | None] = []
    depth = 0
    for name in names:
        if SHORTCUT_MODULE in name.split("."):
            depths.append(None)
        else:
            depth += 1
            depths.append(depth)
    return depths


class GradientNorms:
    """Sums, over a window's iterations, the L2 norm of each recorded layer's weight
    gradient, in a device tensor (no host sync: `sums` is read at the trainer's)."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        layers = recorded_layers(model)
        self.names = [name for name, _ in layers]
        self.depths = layer_depths(self.names)
        self._weights = [weight for _, weight in layers]
        self._missing = torch.zeros(0, device=device)  # a layer without a gradient: norm 0
        self.sums = torch.zeros(len(layers), device=device, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.names)

    def accumulate(self) -> None:
        """Add the current gradients' norms (call after backward, before the step)."""
        grads = [self._missing if w.grad is None else w.grad for w in self._weights]
        norms = torch._foreach_norm(grads)  # one fused pass, on the device
        self.sums += torch.stack(norms).float()

    def reset(self) -> None:
        """Start a new window (the sums were read)."""
        self.sums.zero_()
