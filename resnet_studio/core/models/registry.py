"""The zoo's public names: parsing, building, and what each network is.

Grammar (every name `model_names()` lists, and more):
    resnet{18,34,50,101,152}[-v1|-v1c|-v1d|-cifar]   ImageNet nets (Table 1) and variants
    plain{18,...,152}[-...]                          the same without shortcuts
    cifar-resnet{6n+2}, cifar-plain{6n+2}            the CIFAR nets of section 4.2
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import nn

from resnet_studio.core.errors import ModelNameError
from resnet_studio.core.models.resnet import ResNet

# Table 1: blocks per stage for each depth, and the block kind.
IMAGENET_LAYERS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)  # section 4.2: 16, 32, 64 filters
CIFAR_LISTED_DEPTHS = (20, 32, 44, 56, 110, 1202)  # Table 6
# variant suffix -> (label shown to users, family)
VARIANTS = {
    "": ("v1.5", "imagenet"),
    "v1": ("v1", "imagenet"),
    "v1c": ("v1c", "imagenet"),
    "v1d": ("v1d", "imagenet"),
    "cifar": ("cifar", "imagenet-cifar"),
}
FAMILIES = {
    "imagenet": "ImageNet (Table 1)",
    "imagenet-cifar": "CIFAR-style ImageNet nets (mmpretrain ResNet_CIFAR)",
    "cifar": "CIFAR 6n+2 (section 4.2)",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

_IMAGENET_NAME = re.compile(r"^(resnet|plain)(\d+)(?:-(v1|v1c|v1d|cifar))?$")
_CIFAR_NAME = re.compile(r"^cifar-(resnet|plain)(\d+)$")


@dataclass(frozen=True)
class ModelSpec:
    """Everything a name fixes; `create_model` turns it into a ResNet."""

    name: str
    family: str  # a key of FAMILIES
    depth: int
    block: str  # "basic" | "bottleneck"
    layers: tuple[int, ...]
    widths: tuple[int, ...]
    variant: str  # "v1", "v1.5", "v1c", "v1d", "cifar", "paper"
    plain: bool
    stem: str
    default_shortcut: str  # used unless the caller chooses; ignored by plain nets
    num_classes: int
    input_size: int  # canonical input side, pixels
    resize_size: int  # shorter side before the centre crop, pixels
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    def build_kwargs(self) -> dict:
        return {
            "block": self.block,
            "layers": self.layers,
            "widths": self.widths,
            "stem": self.stem,
            "stem_channels": self.widths[0],
            "stride_in_1x1": self.variant == "v1",
            "avg_down": self.variant == "v1d",
        }


def parse_name(name: str) -> ModelSpec:
    """The spec of a zoo name; ModelNameError with suggestions for anything else."""
    key = name.strip().lower()
    if match := _CIFAR_NAME.match(key):
        return _cifar_spec(key, match.group(1) == "plain", int(match.group(2)))
    if match := _IMAGENET_NAME.match(key):
        return _imagenet_spec(key, match.group(1) == "plain", int(match.group(2)), match.group(3))
    raise ModelNameError(
        f"unknown model {name!r}. Names look like resnet50, resnet50-v1d, plain34, "
        "resnet18-cifar, cifar-resnet56 or cifar-plain20; `resnet-studio models` lists them."
    )


def _cifar_spec(key: str, plain: bool, depth: int) -> ModelSpec:
    if depth < 8 or (depth - 2) % 6:
        raise ModelNameError(
            f"{key}: the paper's CIFAR nets have 6n+2 layers (20, 32, 44, 56, 110, 1202, ...); "
            f"{depth} is not of that form"
        )
    n = (depth - 2) // 6
    return ModelSpec(
        name=key, family="cifar", depth=depth, block="basic", layers=(n, n, n),
        widths=CIFAR_WIDTHS, variant="paper", plain=plain, stem="cifar",
        default_shortcut="A",  # section 4.2: "we use identity shortcuts in all cases (option A)"
        num_classes=10, input_size=32, resize_size=32, mean=CIFAR_MEAN, std=CIFAR_STD,
    )


def _imagenet_spec(key: str, plain: bool, depth: int, suffix: str | None) -> ModelSpec:
    if depth not in IMAGENET_LAYERS:
        raise ModelNameError(
            f"{key}: ImageNet ResNets come in depths {sorted(IMAGENET_LAYERS)} (Table 1); "
            "for other depths use the CIFAR family, e.g. cifar-resnet56"
        )
    block, layers = IMAGENET_LAYERS[depth]
    variant, family = VARIANTS[suffix or ""]
    if variant == "v1" and block == "basic":
        raise ModelNameError(
            f"{key}: v1 and v1.5 differ only in the bottleneck's stride; "
            f"for a {depth}-layer net use {key.removesuffix('-v1')}"
        )
    cifar = family == "imagenet-cifar"
    return ModelSpec(
        name=key, family=family, depth=depth, block=block, layers=layers,
        widths=IMAGENET_WIDTHS, variant=variant, plain=plain,
        stem="cifar" if cifar else ("deep" if variant in ("v1c", "v1d") else "imagenet"),
        default_shortcut="B",  # torchvision and mmpretrain: projections where shapes change
        num_classes=10 if cifar else 1000,
        input_size=32 if cifar else 224,
        resize_size=32 if cifar else 256,
        mean=CIFAR_MEAN if cifar else IMAGENET_MEAN,
        std=CIFAR_STD if cifar else IMAGENET_STD,
    )


def model_names() -> list[str]:
    """Every listed name: each ImageNet depth and variant, the paper's CIFAR depths,
    and the plain counterpart of each. Other 6n+2 CIFAR depths are accepted too."""
    names = []
    for kind in ("resnet", "plain"):
        for depth, (block, _) in IMAGENET_LAYERS.items():
            for suffix in VARIANTS:
                if suffix == "v1" and block == "basic":
                    continue
                names.append(f"{kind}{depth}" + (f"-{suffix}" if suffix else ""))
        names += [f"cifar-{kind}{depth}" for depth in CIFAR_LISTED_DEPTHS]
    return names


def create_model(
    name: str,
    num_classes: int | None = None,
    *,
    shortcut: str | None = None,
    zero_init_residual: bool = False,
) -> nn.Module:
    """Build a network of the zoo with fresh (He-initialised) weights.

    Args:
        name: a zoo name, e.g. "resnet50", "cifar-resnet110", "plain34".
        num_classes: classifier outputs (default 1000 for ImageNet nets, 10 for CIFAR).
        shortcut: "A", "B" or "C" (Table 3); defaults to A for the paper's CIFAR
            nets and B for the others. Plain nets take no shortcut option.
        zero_init_residual: start every block as the identity.
    """
    spec = parse_name(name)
    return ResNet(
        num_classes=num_classes or spec.num_classes,
        shortcut=resolve_shortcut(spec, shortcut),
        zero_init_residual=zero_init_residual,
        **spec.build_kwargs(),
    )


def resolve_shortcut(spec: ModelSpec, shortcut: str | None) -> str | None:
    """The shortcut option the net gets: None for plain nets, else the choice or default."""
    if spec.plain:
        if shortcut is not None:
            raise ModelNameError(
                f"{spec.name} is a plain net: it has no shortcuts, so shortcut={shortcut!r} "
                f"does not apply (use {spec.name.replace('plain', 'resnet', 1)} for a residual net)"
            )
        return None
    choice = (shortcut or spec.default_shortcut).upper()
    if choice not in ("A", "B", "C"):
        raise ModelNameError(f"shortcut must be A, B or C (Table 3), got {shortcut!r}")
    return choice
