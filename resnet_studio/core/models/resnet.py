"""One ResNet class for every network of the zoo: variants are constructor arguments.

The layout (`conv1`, `bn1`, `layer1`..`layer4`, `fc`) is torchvision's, and the deep
stem of v1c/v1d is timm's (`conv1.0/1/3/4/6` then `bn1`), so state_dicts of both load
as they are; mmpretrain, timm's resnetv2 and the CIFAR reproductions are converted in
`core.weights.formats`.

`preact=True` builds the pre-activation nets of He et al. 2016b: pre-act blocks, a stem
that is the convolution alone (the first block's BN-ReLU follows it), and a final
BN-ReLU (`final_bn`, `final_act`) before the pooling, as timm's resnetv2 and He's
resnet-pre-act.lua.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resnet_studio.core.models.blocks import BLOCKS, PREACT_BLOCKS, conv3x3

STEMS = ("imagenet", "deep", "cifar")


def _make_stem(kind: str, channels: int) -> tuple[nn.Module, nn.Module]:
    """The stem's convolution(s) and whether a max-pool follows."""
    if kind == "imagenet":  # Table 1: 7x7, 64, stride 2, then 3x3 max pool, stride 2
        return nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False), nn.MaxPool2d(3, 2, 1)
    if kind == "deep":  # ResNet-C (Bag of Tricks): three 3x3 convs, 32-32-64
        half = channels // 2
        deep = nn.Sequential(
            nn.Conv2d(3, half, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, channels, 3, stride=1, padding=1, bias=False),
        )
        return deep, nn.MaxPool2d(3, 2, 1)
    if kind == "cifar":  # section 4.2: a 3x3 convolution at full resolution, no pooling
        return conv3x3(3, channels), nn.Identity()
    raise ValueError(f"stem must be one of {STEMS}, got {kind!r}")


class ResNet(nn.Module):
    """A residual network, or with `shortcut=None` its plain counterpart.

    Args:
        block: "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1).
        layers: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50.
        widths: planes per stage, e.g. (64, 128, 256, 512); the paper's CIFAR nets use
            (16, 32, 64).
        stem: "imagenet" (7x7/2 + max-pool), "deep" (3x3 x3, v1c/v1d) or "cifar"
            (3x3/1, no pool).
        stem_channels: output channels of the stem (defaults to widths[0]).
        shortcut: "A", "B", "C" (Table 3) or None for a plain net.
        stride_in_1x1: the paper's original bottleneck (v1) instead of v1.5.
        avg_down: v1d's average-pool before the projection shortcut.
        zero_init_residual: start each residual branch's last BN at zero (in a
            pre-act block its last convolution), so every block begins as the identity
            (Goyal et al. 2017).
        preact: pre-activation blocks, no BN-ReLU in the stem, a final BN-ReLU (2016b).
    """

    def __init__(
        self,
        block: str,
        layers: Sequence[int],
        widths: Sequence[int] = (64, 128, 256, 512),
        num_classes: int = 1000,
        stem: str = "imagenet",
        stem_channels: int | None = None,
        shortcut: str | None = "B",
        stride_in_1x1: bool = False,
        avg_down: bool = False,
        zero_init_residual: bool = False,
        preact: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError("layers and widths need one entry per stage")
        block_cls = (PREACT_BLOCKS if preact else BLOCKS)[block]
        stem_channels = stem_channels or widths[0]
        self.preact = preact
        self.conv1, self.maxpool = _make_stem(stem, stem_channels)
        # pre-act: the first block's own BN-ReLU normalises the stem's output
        self.bn1 = nn.Identity() if preact else nn.BatchNorm2d(stem_channels)
        self.relu = nn.Identity() if preact else nn.ReLU(inplace=True)
        self.stem = nn.Identity()  # tap: the stem's output
        self.stage_names: list[str] = []
        in_ch = stem_channels
        for index, (count, planes) in enumerate(zip(layers, widths, strict=True)):
            blocks = []
            for position in range(count):
                stride = 2 if index > 0 and position == 0 else 1
                blocks.append(
                    block_cls(in_ch, planes, stride, shortcut, avg_down, stride_in_1x1)
                )
                in_ch = planes * block_cls.expansion
            name = f"layer{index + 1}"
            setattr(self, name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        # pre-act: the last block's sum is not normalised, so a BN-ReLU precedes the pool
        self.final_bn = nn.BatchNorm2d(in_ch) if preact else nn.Identity()
        self.final_act = nn.ReLU(inplace=True) if preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        # He et al. 2015 initialisation, as section 3.4 and torchvision.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for block in self.blocks():
                nn.init.zeros_(getattr(block, block.zero_init_layer).weight)

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, name) for name in self.stage_names]

    def blocks(self) -> list[nn.Module]:
        return [block for stage in self.stages() for block in stage]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map the pooling reads: the last stage's output (pre-act nets:
        after the final BN-ReLU)."""
        x = self.stem(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        for stage in self.stages():
            x = stage(x)
        return self.final_act(self.final_bn(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(features), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
