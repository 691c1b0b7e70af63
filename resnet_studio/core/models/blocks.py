"""Residual blocks and shortcuts of He et al. 2016, with torchvision's module names.

Module names follow torchvision (`conv1`, `bn1`, `downsample`) so that weight files of
torchvision, timm and mmpretrain load without renaming. Unlike torchvision, every
activation is its own module and each block has three parameter-free taps
(`identity`, `residual`, `sum`): a forward hook on any of them fires exactly once per
forward, which is what the inspection code relies on. Taps add no state_dict keys.

The pre-activation blocks of He et al. 2016b ("Identity Mappings in Deep Residual
Networks", Fig. 1b / Fig. 4e) put BN-ReLU before each convolution and nothing after
the addition; `bn<i>` is the BN in front of `conv<i>` (timm's `norm<i>`). Each block
class says what the inspection code needs about it (`branch_layers`, `output_act`,
`response_layers`), so nothing downstream tests for a class.
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
    option: str | None, in_ch: int, out_ch: int, stride: int, avg_down: bool, preact: bool = False
) -> nn.Module | None:
    """The shortcut of one block, or None for the identity (and for plain nets).

    `option` is one of SHORTCUTS, or None for a plain net (no shortcut at all).
    Returns a module only where the block needs one: option A pads where the shape
    changes, B projects where the shape changes, C projects everywhere. A pre-act
    projection is the 1x1 convolution alone (2016b; timm's `DownsampleConv(preact=True)`):
    its input is already BN-ReLU'd, and a BN after it would undo the clean identity path.
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
        if preact:
            return nn.Sequential(pool, conv1x1(in_ch, out_ch))
        return nn.Sequential(pool, conv1x1(in_ch, out_ch), nn.BatchNorm2d(out_ch))
    if preact:
        return nn.Sequential(conv1x1(in_ch, out_ch, stride))
    return nn.Sequential(conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))


class _ResidualBlock(nn.Module):
    """What both block kinds share: the shortcut, the taps and the final addition."""

    expansion = 1
    preact = False
    zero_init_layer: str  # the layer that closes the residual branch (zero_init_residual)
    branch_layers: tuple[str, ...]  # the residual branch's modules, in forward order
    output_act: str | None  # the ReLU after the addition; None for pre-act blocks
    # Figure 7's response of each 3x3 convolution: the output of the BN that normalises it
    # next, before ReLU (in a pre-act block the last conv has none: its F(x), "residual")
    response_layers: tuple[str, ...]

    def _init_shortcut(self, downsample: nn.Module | None, has_shortcut: bool) -> None:
        self.downsample = downsample
        self.has_shortcut = has_shortcut
        self.identity = nn.Identity()  # tap: x as the shortcut delivers it
        self.residual = nn.Identity()  # tap: F(x), the branch before the addition
        self.sum = nn.Identity()  # tap: F(x) + x, before the final ReLU

    def _finish(
        self, x: torch.Tensor, branch: torch.Tensor, preactivated: torch.Tensor | None = None
    ) -> torch.Tensor:
        """F(x) + shortcut(x). A pre-act block's projection reads the BN-ReLU'd input
        (`preactivated`, as 2016b's code and timm); identity and zero-padding read x."""
        branch = self.residual(branch)
        if self.has_shortcut:
            if self.downsample is None:
                shortcut = x
            elif preactivated is not None and not isinstance(self.downsample, ZeroPadShortcut):
                shortcut = self.downsample(preactivated)
            else:
                shortcut = self.downsample(x)
            branch += self.identity(shortcut)  # in place, as torchvision: one activation less
        return self.sum(branch)


class BasicBlock(_ResidualBlock):
    """Two 3x3 convolutions (Fig. 5 left), for ResNet-18/34 and the CIFAR nets."""

    expansion = 1
    zero_init_layer = "bn2"
    branch_layers = ("conv1", "bn1", "act1", "conv2", "bn2")
    output_act = "act2"
    response_layers = ("bn1", "bn2")

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
    zero_init_layer = "bn3"
    branch_layers = ("conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3", "bn3")
    output_act = "act3"
    response_layers = ("bn2",)

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


class PreActBasicBlock(_ResidualBlock):
    """BN-ReLU-3x3, BN-ReLU-3x3, then the addition and nothing after it (2016b, Fig. 4e);
    timm's `PreActBasic` (resnetv2_18/34) and the pre-act ResNet-110 of 2016b's Table 3."""

    expansion = 1
    preact = True
    zero_init_layer = "conv2"
    branch_layers = ("bn1", "act1", "conv1", "bn2", "act2", "conv2")
    output_act = None
    response_layers = ("bn2", "residual")  # conv1 -> bn2; conv2 ends the branch: F(x)

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
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.act1 = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(in_ch, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, out_ch)
        self._init_shortcut(
            make_shortcut(shortcut, in_ch, out_ch, stride, avg_down, preact=True),
            shortcut is not None,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        out = self.conv2(self.act2(self.bn2(self.conv1(pre))))
        return self._finish(x, out, pre)


class PreActBottleneck(_ResidualBlock):
    """BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1, then the addition (2016b, Fig. 1b): the
    ResNet-164/-1001 unit of He's resnet-pre-act.lua and timm's `PreActBottleneck`.

    `stride_in_1x1=True` strides in the first 1x1, as He's CIFAR code does; False on
    the 3x3, as timm's resnetv2_50/101/152 (whose weights then load)."""

    expansion = 4
    preact = True
    zero_init_layer = "conv3"
    branch_layers = ("bn1", "act1", "conv1", "bn2", "act2", "conv2", "bn3", "act3", "conv3")
    output_act = None
    response_layers = ("bn3",)  # the 3x3 conv2 is normalised next by bn3

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
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.act1 = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(in_ch, planes, stride_1x1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, stride_3x3)
        self.bn3 = nn.BatchNorm2d(planes)
        self.act3 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(planes, out_ch)
        self._init_shortcut(
            make_shortcut(shortcut, in_ch, out_ch, stride, avg_down, preact=True),
            shortcut is not None,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        out = self.act2(self.bn2(self.conv1(pre)))
        out = self.conv3(self.act3(self.bn3(self.conv2(out))))
        return self._finish(x, out, pre)


BLOCKS: dict[str, type[_ResidualBlock]] = {"basic": BasicBlock, "bottleneck": Bottleneck}
PREACT_BLOCKS: dict[str, type[_ResidualBlock]] = {
    "basic": PreActBasicBlock,
    "bottleneck": PreActBottleneck,
}
