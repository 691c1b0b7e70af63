"""Building the zoo's networks. The names, their grammar and what each one fixes live
in the torch-free `core.catalog`; this module turns a name into a ResNet."""

from __future__ import annotations

from torch import nn

from resnet_studio.core.catalog import parse_name, resolve_shortcut
from resnet_studio.core.models.resnet import ResNet

__all__ = ["create_model"]


def create_model(
    name: str,
    num_classes: int | None = None,
    *,
    shortcut: str | None = None,
    zero_init_residual: bool = False,
) -> nn.Module:
    """Build a network of the zoo with fresh (He-initialised) weights.

    Args:
        name: a zoo name, e.g. "resnet50", "cifar-resnet110", "plain34",
            "resnet50-preact", "cifar-resnet164-bottleneck-preact".
        num_classes: classifier outputs (default 1000 for ImageNet nets, 10 for CIFAR).
        shortcut: "A", "B" or "C" (Table 3); defaults to A for the paper's CIFAR
            nets and B for the others. Plain nets take no shortcut option.
        zero_init_residual: start every block as the identity.

    `spec.build_kwargs()` carries the variant (stem, strides, avg-down, pre-activation),
    so a new variant is a grammar entry in the catalog and a constructor argument here.
    """
    spec = parse_name(name)
    return ResNet(
        num_classes=num_classes or spec.num_classes,
        shortcut=resolve_shortcut(spec, shortcut),
        zero_init_residual=zero_init_residual,
        **spec.build_kwargs(),
    )
