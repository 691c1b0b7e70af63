"""The catalog: every name, suffix and constant the package shares, in one place.

It imports no torch (nor numpy), so the CLI's listings, the window's first paint and
any layer can read it in milliseconds; `tests/core/test_catalog.py` keeps it so.

- files: the weight and image suffixes and the file-dialog filters built from them;
- normalisation constants and `Preprocessing`, with `resolve_preprocessing`, the one
  answer to "how does this model want its input" (as timm's
  `resolve_model_data_config`): the weights' own preprocessing when they carry one,
  else the network's family default;
- the model-name grammar: `parse_name`, `model_names`, `compose_name`, `plain_twin`,
  `residual_twin`, `is_plain`, and `ModelChoice`, a name with its options;
- run statuses;
- seeds shared by separate modules (the synthetic test images Figure 7 uses).

Grammar (every name `model_names()` lists, and more):
    resnet{18,34,50,101,152}[-v1|-v1c|-v1d|-cifar|-preact]   ImageNet nets (Table 1), variants
    plain{18,...,152}[-...]                                  the same without shortcuts
    cifar-resnet{6n+2}[-preact], cifar-plain{6n+2}[-preact]  the CIFAR nets of section 4.2
    cifar-resnet{9n+2}-bottleneck[-preact], cifar-plain...   the bottleneck CIFAR nets of
                                                             He et al. 2016b (ResNet-164, -1001)
"-preact" is the pre-activation design of He et al. 2016b, "Identity Mappings in Deep
Residual Networks": BN-ReLU before each convolution, nothing after the addition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from resnet_studio.core.errors import ModelNameError

# ----------------------------------------------------------------------------- files

# What a weight file may be called. The format is found from the keys, never the
# suffix (core.weights); the suffix only decides where a drop goes and what dialogs show.
# ".th": the CIFAR reproduction's files (akamaster/pytorch_resnet_cifar10).
WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pth", ".pt", ".ckpt", ".bin", ".th")
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
SAFETENSORS_SUFFIX = ".safetensors"


def file_filter(label: str, suffixes: Any) -> str:
    """A Qt file-dialog filter, "Label (*.a *.b);;All files (*)"."""
    patterns = " ".join(f"*{s}" for s in sorted(suffixes) if s)
    return f"{label} ({patterns});;All files (*)"


WEIGHTS_FILTER = file_filter("Weight files", WEIGHT_SUFFIXES)
IMAGES_FILTER = file_filter("Images", IMAGE_SUFFIXES)
SAFETENSORS_FILTER = f"safetensors (*{SAFETENSORS_SUFFIX})"


def is_weight_file(path: str | PurePath) -> bool:
    return PurePath(path).suffix.lower() in WEIGHT_SUFFIXES


def is_image_file(path: str | PurePath) -> bool:
    return PurePath(path).suffix.lower() in IMAGE_SUFFIXES


def suffix_list(suffixes: Any) -> str:
    """".safetensors, .pth, ..." for messages."""
    return ", ".join(suffixes)


# ----------------------------------------------------------------------------- normalisation

# ImageNet training-set statistics (torchvision's and every ImageNet checkpoint's).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# timm's IMAGENET_INCEPTION_MEAN/STD: every resnetv2 checkpoint of timm is normalised so.
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
# CIFAR-10 training-set statistics, on the 0..1 scale.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Preprocessing:
    """How a network wants its input: resize, centre crop, normalise.

    Saved with every run and weight file, so it must stay plain data. Lists (from
    JSON) are accepted and stored as tuples.
    """

    input_size: int  # pixels, side of the square the network sees
    resize_size: int  # pixels, shorter side after resizing, before the centre crop
    mean: tuple[float, float, float]  # per RGB channel, on the 0..1 scale
    std: tuple[float, float, float]  # per RGB channel, on the 0..1 scale

    def __post_init__(self) -> None:
        if self.input_size < 1 or self.resize_size < 1:
            raise ValueError(f"sizes must be positive, got {self.input_size}, {self.resize_size}")
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise ValueError(f"{name} needs 3 values (R, G, B), got {value}")
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")


# torchvision's ImageNet evaluation transform (Resize(256) + CenterCrop(224)).
IMAGENET_PREPROCESSING = Preprocessing(224, 256, IMAGENET_MEAN, IMAGENET_STD)
# CIFAR images are already 32 x 32.
CIFAR_PREPROCESSING = Preprocessing(32, 32, CIFAR_MEAN, CIFAR_STD)


# ----------------------------------------------------------------------------- model names

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
# He et al. 2016b: ResNet-164 and ResNet-1001, bottlenecks of widths 16/32/64 (x4 out)
CIFAR_BOTTLENECK_DEPTHS = (164, 1001)
CIFAR_PREACT_LISTED_DEPTHS = (110,)  # 2016b Table 3: pre-act ResNet-110, basic blocks
PREACT = "preact"  # the variant label (and name suffix) of the pre-activation nets
# name suffix -> (variant label shown to users, family)
VARIANTS = {
    "": ("v1.5", "imagenet"),
    "v1": ("v1", "imagenet"),
    "v1c": ("v1c", "imagenet"),
    "v1d": ("v1d", "imagenet"),
    "cifar": ("cifar", "imagenet-cifar"),
    PREACT: (PREACT, "imagenet"),  # timm's resnetv2_18..152 layout (2016b, Fig. 1b)
}
VARIANT_SUFFIXES = {label: suffix for suffix, (label, _) in VARIANTS.items()}  # "v1d" -> "v1d"
FAMILIES = {
    "imagenet": "ImageNet (Table 1)",
    "imagenet-cifar": "CIFAR-style ImageNet nets (mmpretrain ResNet_CIFAR)",
    "cifar": "CIFAR 6n+2 (section 4.2)",
    "cifar-bottleneck": "CIFAR 9n+2 bottleneck (He et al. 2016b)",
}
# the variants of both CIFAR families: the paper's post-activation block, or pre-act
CIFAR_VARIANTS = ("paper", PREACT)
SHORTCUTS = ("A", "B", "C")  # Table 3

_IMAGENET_NAME = re.compile(r"^(resnet|plain)(\d+)(?:-(v1|v1c|v1d|cifar|preact))?$")
_CIFAR_NAME = re.compile(r"^cifar-(resnet|plain)(\d+)(-bottleneck)?(-preact)?$")


@dataclass(frozen=True)
class ModelSpec:
    """Everything a name fixes; `core.models.create_model` turns it into a ResNet."""

    name: str
    family: str  # a key of FAMILIES
    depth: int
    block: str  # "basic" | "bottleneck"
    layers: tuple[int, ...]
    widths: tuple[int, ...]
    variant: str  # "v1", "v1.5", "v1c", "v1d", "cifar", "paper", "preact"
    plain: bool
    stem: str
    default_shortcut: str  # used unless the caller chooses; ignored by plain nets
    num_classes: int
    input_size: int  # canonical input side, pixels
    resize_size: int  # shorter side before the centre crop, pixels
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    @property
    def preprocessing(self) -> Preprocessing:
        """The family default: what the network's canonical input looks like."""
        return Preprocessing(self.input_size, self.resize_size, self.mean, self.std)

    @property
    def preact(self) -> bool:
        """Whether the blocks are pre-activation ones (He et al. 2016b)."""
        return self.variant == PREACT

    def build_kwargs(self) -> dict:
        # He's resnet-pre-act.lua (2016b's own code) strides in the first 1x1 of its CIFAR
        # bottlenecks; the ImageNet pre-act nets follow timm's resnetv2 (stride on the 3x3).
        cifar_bottleneck = self.family == "cifar-bottleneck"
        return {
            "block": self.block,
            "layers": self.layers,
            "widths": self.widths,
            "stem": self.stem,
            "stem_channels": self.widths[0],
            "stride_in_1x1": self.variant == "v1" or cifar_bottleneck,
            "avg_down": self.variant == "v1d",
            "preact": self.preact,
        }


def parse_name(name: str) -> ModelSpec:
    """The spec of a zoo name; ModelNameError with suggestions for anything else."""
    key = name.strip().lower()
    if match := _CIFAR_NAME.match(key):
        kind, depth, bottleneck, preact = match.groups()
        return _cifar_spec(key, kind == "plain", int(depth), bottleneck=bool(bottleneck), preact=bool(preact))
    if match := _IMAGENET_NAME.match(key):
        return _imagenet_spec(key, match.group(1) == "plain", int(match.group(2)), match.group(3))
    raise ModelNameError(
        f"unknown model {name!r}. Names look like resnet50, resnet50-v1d, resnet50-preact, "
        "plain34, resnet18-cifar, cifar-resnet56, cifar-plain20, cifar-resnet110-preact or "
        "cifar-resnet164-bottleneck-preact; `resnet-studio models` lists them."
    )


def _cifar_spec(key: str, plain: bool, depth: int, *, bottleneck: bool, preact: bool) -> ModelSpec:
    # 2 + 3 stages x n blocks x (2 convs per basic block, 3 per bottleneck)
    per_block = 3 if bottleneck else 2
    if depth < 2 + 3 * per_block or (depth - 2) % (3 * per_block):
        form, examples = ("9n+2", "164, 1001") if bottleneck else ("6n+2", "20, 32, 44, 56, 110, 1202")
        raise ModelNameError(
            f"{key}: the paper's CIFAR {'bottleneck ' if bottleneck else ''}nets have {form} "
            f"layers ({examples}, ...); {depth} is not of that form"
        )
    n = (depth - 2) // (3 * per_block)
    return ModelSpec(
        name=key, family="cifar-bottleneck" if bottleneck else "cifar", depth=depth,
        block="bottleneck" if bottleneck else "basic", layers=(n, n, n),
        widths=CIFAR_WIDTHS, variant=PREACT if preact else "paper", plain=plain, stem="cifar",
        # section 4.2: "we use identity shortcuts in all cases (option A)"; the 2016b
        # bottleneck nets project where the width grows (resnet-pre-act.lua), option B
        default_shortcut="B" if bottleneck else "A",
        num_classes=10, input_size=32, resize_size=32, mean=CIFAR_MEAN, std=CIFAR_STD,
    )  # fmt: skip


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
    )  # fmt: skip


def compose_name(family: str, depth: int | str, *, plain: bool = False, variant: str = "v1.5") -> str:
    """The zoo name of a family, depth, variant label ("v1.5", "v1", "v1c", "v1d",
    "preact"; the CIFAR families take "paper" or "preact") and kind; the inverse of
    `parse_name` (which validates it: this only composes).

    v1 differs from v1.5 only for bottlenecks, so a basic-block depth with v1 composes
    the v1.5 name rather than one `parse_name` refuses."""
    kind = "plain" if plain else "resnet"
    if family in ("cifar", "cifar-bottleneck"):
        bottleneck = "-bottleneck" if family == "cifar-bottleneck" else ""
        return f"cifar-{kind}{depth}{bottleneck}" + (f"-{PREACT}" if variant == PREACT else "")
    if family == "imagenet-cifar":
        return f"{kind}{depth}-cifar"
    suffix = VARIANT_SUFFIXES.get(variant, "")
    block = IMAGENET_LAYERS.get(_int_or_none(depth) or 0, ("bottleneck",))[0]
    if suffix == "v1" and block == "basic":
        suffix = ""
    return f"{kind}{depth}" + (f"-{suffix}" if suffix else "")


def _int_or_none(text: int | str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def is_plain(name: str) -> bool:
    """Whether a zoo name (or a label that starts with one, "cifar-plain20 (A)") is a
    plain net: Figure 6 puts those on its left plot."""
    key = name.strip().lower()
    return key.startswith("plain") or key.startswith("cifar-plain")


def plain_twin(name: str) -> str:
    """The same network without shortcuts: cifar-resnet56 -> cifar-plain56."""
    spec = parse_name(name)
    return spec.name if spec.plain else spec.name.replace("resnet", "plain", 1)


def residual_twin(name: str) -> str:
    """The same network with shortcuts: plain34-v1d -> resnet34-v1d."""
    spec = parse_name(name)
    return spec.name if not spec.plain else spec.name.replace("plain", "resnet", 1)


def twin(name: str) -> str:
    """The other one of a plain/residual pair (the natural "compare with")."""
    return residual_twin(name) if parse_name(name).plain else plain_twin(name)


def model_names() -> list[str]:
    """Every listed name: each ImageNet depth and variant (pre-act included), the
    paper's CIFAR depths, the pre-act CIFAR nets of He et al. 2016b (ResNet-110, and
    ResNet-164 and -1001 with bottlenecks, beside their post-activation originals),
    and the plain counterpart of each. Other 6n+2 (9n+2) CIFAR depths are accepted too."""
    names = []
    for plain in (False, True):
        for depth, (block, _) in IMAGENET_LAYERS.items():
            for label, _family in VARIANTS.values():
                if label == "v1" and block == "basic":
                    continue
                family = "imagenet-cifar" if label == "cifar" else "imagenet"
                names.append(compose_name(family, depth, plain=plain, variant=label))
        names += [compose_name("cifar", depth, plain=plain) for depth in CIFAR_LISTED_DEPTHS]
        names += [compose_name("cifar", d, plain=plain, variant=PREACT) for d in CIFAR_PREACT_LISTED_DEPTHS]
        names += [compose_name("cifar-bottleneck", depth, plain=plain, variant=variant)
                  for depth in CIFAR_BOTTLENECK_DEPTHS for variant in CIFAR_VARIANTS]  # fmt: skip
    return names


def resolve_shortcut(spec: ModelSpec, shortcut: str | None) -> str | None:
    """The shortcut option the net gets: None for plain nets, else the choice or default."""
    if spec.plain:
        if shortcut is not None:
            raise ModelNameError(
                f"{spec.name} is a plain net: it has no shortcuts, so shortcut={shortcut!r} "
                f"does not apply (use {residual_twin(spec.name)} for a residual net)"
            )
        return None
    choice = (shortcut or spec.default_shortcut).upper()
    if choice not in SHORTCUTS:
        raise ModelNameError(f"shortcut must be A, B or C (Table 3), got {shortcut!r}")
    return choice


@dataclass(frozen=True)
class ModelChoice:
    """A network of the zoo with its options: what the Model panel describes, what a
    run trains, what `create_model` and `model_info` take. None means the default
    (the family's class count, its shortcut option)."""

    name: str
    num_classes: int | None = None
    shortcut: str | None = None  # "A" | "B" | "C"; None: the family default (plain: none)
    zero_init_residual: bool = False

    @property
    def label(self) -> str:
        """How runs and plots name it: "cifar-resnet20 (B)" when the shortcut is given."""
        return self.name + (f" ({self.shortcut})" if self.shortcut else "")

    def resolved(self) -> ModelChoice:
        """The same choice with every default filled in (and the name normalised)."""
        spec = parse_name(self.name)
        return ModelChoice(spec.name, self.num_classes or spec.num_classes,
                           resolve_shortcut(spec, self.shortcut), self.zero_init_residual)  # fmt: skip

    def options(self) -> dict[str, Any]:
        """Keyword arguments of `create_model(name, **options)` and `model_info`."""
        return {"num_classes": self.num_classes, "shortcut": self.shortcut}


# ----------------------------------------------------------------------------- preprocessing


def resolve_preprocessing(name: str | None, weights_preprocessing: Any = None) -> Preprocessing:
    """How model `name` wants its input: the weights' own preprocessing when they carry
    one (a `Preprocessing`, or its dict from a file's metadata), else the family's
    default from the name. The single place predict, inspect and the window ask."""
    if isinstance(weights_preprocessing, Preprocessing):
        return weights_preprocessing
    if isinstance(weights_preprocessing, dict):
        return Preprocessing(**weights_preprocessing)
    if not name:
        raise ModelNameError("no model name to take the preprocessing from")
    return parse_name(name).preprocessing


# ----------------------------------------------------------------------------- runs

RUN_STATUSES = ("running", "finished", "cancelled", "diverged", "failed")
STALE = "stale"  # "running" in status.json, but no process holds the run's lock
UNKNOWN = "unknown"  # a file of the folder is missing or cannot be read
DAMAGED = "damaged"  # a file of the folder is malformed: the reason names it
FAILED_STATUSES = ("failed", "diverged")
# resume continues from the last checkpoint (a stale run was killed mid-training)
RESUMABLE_STATUSES = ("cancelled", "failed", STALE)

# ----------------------------------------------------------------------------- seeds

# Offset of the synthetic data set's test images from its training seed: the test
# split of `synthetic` and the Figure 7 view's "synthetic test images" are the same.
SYNTHETIC_TEST_SEED_OFFSET = 1_000_003
