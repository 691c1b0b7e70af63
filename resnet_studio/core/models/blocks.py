"""Residual blocks and shortcuts of He et al. 2016, with torchvision's module names.

Module names follow torchvision (`conv1`, `bn1`, `downsample`) so that weight files of
torchvision, timm and mmpretrain load without renaming. Unlike torchvision, every
activation is its own module and each block has three parameter-free taps
(`identity`, `residual`, `sum`): a forward hook on any of them fires exactly once per
forward, which is what the inspection code relies on. Taps add no state_dict keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnet_studio.core.catalog import SHORTCUTS  # options A, B, C of section 3.3 / Table 3


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: identity with stride-subsampling and zero channels, no parameters.

    The new channels are padded evenly on both sides, as the widely used CIFAR
    reproduction (akamaster/pytorch_resnet_cifar10) does, so its checkpoints give the
    same outputs here.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_before = (out_ch - in_ch) // 2
        self.pad_after = out_ch - in_ch - self.pad_before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


def make_shortcut(
    option: str | None, in_ch: int, out_ch: int, stride: int, avg_down: bool
) -> nn.Module | None:
    """The shortcut of one block, or None for the identity (and for plain nets).

    `option` is one of SHORTCUTS, or None for a plain net (no shortcut at all).
    Returns a module only where the block needs one: option A pads where the shape
    changes, B projects where the shape changes, C projects everywhere.
    """
    if option is None:
        return None
    if option not in SHORTCUTS:
        raise ValueError(f"shortcut must be one of {SHORTCUTS} or None, got {option!r}")
    shape_changes = stride != 1 or in_ch != out_ch
    if option == "A":
        return ZeroPadShortcut(in_ch, out_ch, stride) if shape_changes else None
    if option == "B" and not shape_changes:
        return None
    if avg_down:
        # ResNet-D (v1d): average-pool, then a stride-1 projection. Index 0 stays a
        # placeholder at stride 1 so the projection is always at 1 and 2, as in timm.
        pool: nn.Module = (
            nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)
            if stride != 1
            else nn.Identity()
        )
        return nn.Sequential(pool, conv1x1(in_ch, out_ch), nn.BatchNorm2d(out_ch))
    return nn.Sequential(conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))


class _ResidualBlock(nn.Module):
    """What both block kinds share: the shortcut, the taps and the final addition."""

    expansion = 1
    last_bn: str  # the BN that closes the residual branch (zero_init_residual)

    def _init_shortcut(self, downsample: nn.Module | None, has_shortcut: bool) -> None:
        self.downsample = downsample
        self.has_shortcut = has_shortcut
        self.identity = nn.Identity()  # tap: x as the shortcut delivers it
        self.residual = nn.Identity()  # tap: F(x), the branch before the addition
        self.sum = nn.Identity()  # tap: F(x) + x, before the final ReLU

    def _finish(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        branch = self.residual(branch)
        if self.has_shortcut:
            shortcut = self.identity(x if self.downsample is None else self.downsample(x))
            branch += shortcut  # in place, as torchvision: one activation less to allocate
        return self.sum(branch)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions (Fig. 5 left), for ResNet-18/34 and the CIFAR nets."""

    expansion = 1
    last_bn = "bn2"

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        shortcut: str | None = "B",
        avg_down: bool = False,
        stride_in_1x1: bool = False,  # no 1x1 here: accepted for a uniform signature
    ) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = conv3x3(in_ch, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, out_ch)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.act2 = nn.ReLU(inplace=True)
        self._init_shortcut(
            make_shortcut(shortcut, in_ch, out_ch, stride, avg_down), shortcut is not None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(self._finish(x, out))


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (Fig. 5 right), for ResNet-50/101/152.

    `stride_in_1x1=True` is the paper's original block ("v1"); False puts the stride
    on the 3x3 convolution as torchvision does ("v1.5", slightly more accurate and
    more FLOPs).
    """

    expansion = 4
    last_bn = "bn3"

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        shortcut: str | None = "B",
        avg_down: bool = False,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_ch, planes, stride_1x1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, stride_3x3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(planes, out_ch)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.act3 = nn.ReLU(inplace=True)
        self._init_shortcut(
            make_shortcut(shortcut, in_ch, out_ch, stride, avg_down), shortcut is not None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.act3(self._finish(x, out))


BLOCKS: dict[str, type[_ResidualBlock]] = {"basic": BasicBlock, "bottleneck": Bottleneck}
