"""Which tool wrote a state_dict, how its keys map onto ours, and how well it fits.

Detection looks at the keys only (a file's suffix says nothing: timm, torchvision
and mmpretrain all write `.pth`). Conversion renames keys and never copies tensors,
so a mismatch report costs nothing even for ResNet-152.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from resnet_studio.core.catalog import IMAGENET_LAYERS, PREACT, compose_name
from resnet_studio.core.errors import ModelNameError, WeightsError

FORMATS = (
    "resnet-studio",
    "torchvision",
    "timm",
    "timm-resnetv2",
    "mmpretrain",
    "cifar-reproduction",
)

# mmpretrain's ResNetV1c/V1d stem: three ConvModules (conv + bn) -> timm's deep stem.
_MM_STEM = {
    "stem.0.conv.": "conv1.0.", "stem.0.bn.": "conv1.1.",
    "stem.1.conv.": "conv1.3.", "stem.1.bn.": "conv1.4.",
    "stem.2.conv.": "conv1.6.", "stem.2.bn.": "bn1.",
}  # fmt: skip
_DOWNSAMPLE = re.compile(r"^(layer\d+\.\d+)\.downsample\.(\d+)\.(.+)$")
_BLOCK = re.compile(r"^layer(\d+)\.(\d+)\.")
# timm's ResNetV2 (timm/models/resnetv2.py, the BatchNorm nets resnetv2_18/34/50/101/152):
# stages.<i>.blocks.<j>.norm<k>/conv<k>, a conv-only `downsample.conv`, `norm` before the
# head, and a 1x1-conv classifier `head.fc` ([classes, features, 1, 1]).
_V2_BLOCK = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.(norm|conv)(\d)\.(.+)$")
_V2_DOWNSAMPLE = re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.downsample\.conv\.(.+)$")


@dataclass(frozen=True)
class KeyReport:
    """How a converted state_dict fits a model: what matches, and what does not."""

    matched: tuple[str, ...]
    missing: tuple[str, ...]  # in the model, not in the file
    unexpected: tuple[str, ...]  # in the file, not in the model
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # key, file, model

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 5) -> str:
        """A few of each kind of problem and their counts, for an error dialog."""
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                parts.append(f"{len(keys)} {label} ({_first(keys, limit)})")
        if self.mismatched:
            shown = [f"{k}: file {list(a)} vs model {list(b)}" for k, a, b in self.mismatched]
            parts.append(f"{len(shown)} mis-shaped ({_first(shown, limit)})")
        return "; ".join(parts) or f"all {len(self.matched)} keys match"


def _first(items: tuple[str, ...] | list[str], limit: int) -> str:
    more = f", ... {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


@dataclass
class Conversion:
    """A state_dict in our layout, and (given a target) how it fits."""

    state_dict: dict[str, torch.Tensor]
    format: str
    report: KeyReport | None = None
    ignored: tuple[str, ...] = ()  # file keys that belong to no ResNet (data_preprocessor...)
    notes: list[str] = field(default_factory=list)


# -------------------------------------------------------------------------- detection


def detect_format(state_dict: Mapping[str, torch.Tensor], *, studio: bool = False) -> str:
    """The layout of a state_dict: one of FORMATS.

    Rules, first match wins: our metadata -> "resnet-studio"; `backbone.` keys ->
    "mmpretrain"; `linear.` head or `.shortcut.` keys -> "cifar-reproduction";
    `stem.conv*` with `stages.` keys -> "timm-resnetv2" (the pre-activation ResNetV2); a
    deep stem (`conv1.0`) or an avg-down projection (`downsample.2`) -> "timm"; otherwise
    `conv1`/`fc` keys -> "torchvision" (also what a plain `torch.save(model.state_dict())`
    of ours looks like, and timm's own torchvision-layout nets).
    """
    if studio:
        return "resnet-studio"
    keys = list(state_dict)
    if any(k.startswith("backbone.") for k in keys):
        return "mmpretrain"
    if "linear.weight" in state_dict or any(".shortcut." in k for k in keys):
        return "cifar-reproduction"
    if any(k.startswith("stem.conv") for k in keys) and any(k.startswith("stages.") for k in keys):
        return "timm-resnetv2"
    if "conv1.0.weight" in state_dict or any(".downsample.2." in k for k in keys):
        return "timm"
    if "conv1.weight" in state_dict or "fc.weight" in state_dict:
        return "torchvision"
    raise WeightsError(
        "these weights are not a ResNet that resnet-studio recognises (first keys: "
        f"{_first(keys, 4)}). Supported: resnet-studio, torchvision, timm (ResNet and "
        "ResNetV2), mmpretrain and CIFAR-reproduction (akamaster) ResNets."
    )


# ------------------------------------------------------------------------- conversion


def convert_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    format: str,
    target: nn.Module | Mapping[str, torch.Tensor] | str | None = None,
) -> Conversion:
    """Rename a state_dict of `format` into our layout; with a target, report the fit.

    `target` may be a model, a state_dict of one, or a zoo name (built on the meta
    device, sized from the file's head). Nothing is loaded: the GUI can show the
    report before it touches a model. BatchNorm counters that old files lack
    (`num_batches_tracked`) are filled with zeros, as PyTorch does for them.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    renamed, ignored = _RENAMERS.get(format, _identity)(dict(state_dict))
    conversion = Conversion(renamed, format, ignored=tuple(ignored))
    if ignored:
        conversion.notes.append(
            f"ignored {len(ignored)} keys that are not part of a ResNet ({_first(ignored, 3)})"
        )
    if target is not None:
        expected = _expected_shapes(target, renamed)
        if filled := _fill_batch_counters(renamed, expected):
            conversion.notes.append(f"set {filled} missing num_batches_tracked counters to 0")
        conversion.report = compare(renamed, expected)
    return conversion


def _identity(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    return sd, []


def _from_mmpretrain(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    out: dict[str, torch.Tensor] = {}
    ignored = []
    for key, value in sd.items():
        if key.startswith("backbone."):
            key = key.removeprefix("backbone.")
            for old, new in _MM_STEM.items():
                if key.startswith(old):
                    key = new + key.removeprefix(old)
                    break
        elif key.startswith("head.fc."):
            key = "fc." + key.removeprefix("head.fc.")
        else:  # data_preprocessor.*, head.loss_module.*, neck.* ...
            ignored.append(key)
            continue
        out[key] = value
    return _shift_avg_down(out), ignored


def _shift_avg_down(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmpretrain's v1d: [conv, bn] at 0,1 where stride is 1, ours always at 1,2.

    Only a v1d net has any `downsample.2`; in it, a block whose projection has no
    index 2 is a stride-1 one and moves up by one.
    """
    with_pool = {m[1] for k in sd if (m := _DOWNSAMPLE.match(k)) and m[2] == "2"}
    if not with_pool:
        return sd
    out = {}
    for key, value in sd.items():
        m = _DOWNSAMPLE.match(key)
        if m and m[1] not in with_pool:
            key = f"{m[1]}.downsample.{int(m[2]) + 1}.{m[3]}"
        out[key] = value
    return out


def _from_cifar_reproduction(
    sd: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], list[str]]:
    # akamaster/pytorch_resnet_cifar10: `linear` head, option-B `shortcut` Sequential.
    out = {}
    for key, value in sd.items():
        if key.startswith("linear."):
            key = "fc." + key.removeprefix("linear.")
        out[key.replace(".shortcut.", ".downsample.")] = value
    return out, []


def _from_timm_resnetv2(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """timm's ResNetV2 -> our pre-act layout (`*-preact`): norm<k> -> bn<k>, stages.<i> ->
    layer<i+1>, `downsample.conv` -> `downsample.0`, `norm` -> `final_bn`, the 1x1-conv
    head -> `fc` (a reshape: a view, no copy). BiT's GroupNorm nets and the deep-stem
    `resnetv2_*d` have no twin in the zoo and are refused with the reason."""
    if "stem.conv1.weight" in sd:
        raise WeightsError(
            "these are timm ResNetV2 weights with a deep stem (resnetv2_18d/34d/50d...: "
            "three 3x3 stem convs and avg-pool shortcuts); the zoo's pre-act nets have the "
            "7x7 stem: resnetv2_18, _34, _50, _101 and _152 weights load as resnet<depth>-preact."
        )
    if "stages.0.blocks.0.norm1.weight" in sd and "stages.0.blocks.0.norm1.running_mean" not in sd:
        raise WeightsError(
            "these are timm ResNetV2 weights with GroupNorm (BiT, resnetv2_*x*_bit, or "
            "another non-BatchNorm resnetv2): their normalisation and weight-standardised "
            "convolutions are not the BatchNorm pre-act nets of the zoo. resnetv2_18, _34, "
            "_50, _101 and _152 weights load as resnet<depth>-preact."
        )
    out: dict[str, torch.Tensor] = {}
    ignored = []
    for key, value in sd.items():
        if m := _V2_BLOCK.match(key):
            kind = "bn" if m[3] == "norm" else "conv"
            key = f"layer{int(m[1]) + 1}.{m[2]}.{kind}{m[4]}.{m[5]}"
        elif m := _V2_DOWNSAMPLE.match(key):
            key = f"layer{int(m[1]) + 1}.{m[2]}.downsample.0.{m[3]}"
        elif key.startswith("stem.conv."):
            key = "conv1." + key.removeprefix("stem.conv.")
        elif key.startswith("norm."):
            key = "final_bn." + key.removeprefix("norm.")
        elif key.startswith("head.fc."):
            key = "fc." + key.removeprefix("head.fc.")
            if value.ndim == 4 and value.shape[-2:] == (1, 1):
                value = value.flatten(1)  # the 1x1 conv classifier is a Linear on pooled features
        else:
            ignored.append(key)
            continue
        out[key] = value
    return out, ignored


_RENAMERS = {"mmpretrain": _from_mmpretrain, "cifar-reproduction": _from_cifar_reproduction,
             "timm-resnetv2": _from_timm_resnetv2}  # fmt: skip


def _expected_shapes(
    target: nn.Module | Mapping[str, torch.Tensor] | str, converted: Mapping[str, torch.Tensor]
) -> dict[str, tuple[int, ...]]:
    if isinstance(target, str):
        with torch.device("meta"):
            target = build_for(target, converted)
    state = target.state_dict() if isinstance(target, nn.Module) else target
    return {k: tuple(v.shape) for k, v in state.items()}


def _fill_batch_counters(sd: dict[str, torch.Tensor], expected: Mapping[str, tuple]) -> int:
    filled = 0
    for key in expected:
        bn = key.removesuffix("num_batches_tracked")
        if key.endswith(".num_batches_tracked") and key not in sd and bn + "running_mean" in sd:
            sd[key] = torch.tensor(0, dtype=torch.long)
            filled += 1
    return filled


def compare(sd: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]]) -> KeyReport:
    """Match keys and shapes; the order follows the model's, then the file's."""
    matched, mismatched = [], []
    for key, shape in expected.items():
        if key in sd:
            if tuple(sd[key].shape) == tuple(shape):
                matched.append(key)
            else:
                mismatched.append((key, tuple(sd[key].shape), tuple(shape)))
    return KeyReport(
        matched=tuple(matched),
        missing=tuple(k for k in expected if k not in sd),
        unexpected=tuple(k for k in sd if k not in expected),
        mismatched=tuple(mismatched),
    )


# ----------------------------------------------------------------- which network fits


def build_for(name: str, converted: Mapping[str, torch.Tensor]) -> nn.Module:
    """A zoo model shaped like the weights: head size and shortcut option from the keys.

    The shortcut is read off the projections present: none -> A (parameter-free),
    every block -> C, some -> B. Plain nets take none.
    """
    from resnet_studio.core.models import create_model, parse_name

    try:
        spec = parse_name(name)
    except ModelNameError as exc:
        raise WeightsError(str(exc)) from exc
    head = converted.get("fc.weight")
    num_classes = int(head.shape[0]) if head is not None and head.ndim == 2 else None
    shortcut = None if spec.plain else infer_shortcut(converted)
    return create_model(name, num_classes, shortcut=shortcut)


def infer_shortcut(converted: Mapping[str, torch.Tensor]) -> str:
    blocks = {m.group(0) for k in converted if (m := _BLOCK.match(k))}
    projected = {m[1] for k in converted if (m := _DOWNSAMPLE.match(k))}
    if not projected:
        return "A"
    return "C" if len(projected) == len(blocks) else "B"


def guess_model_name(converted: Mapping[str, torch.Tensor]) -> str | None:
    """The zoo name whose keys these are, or None. Reads structure, not values.

    Cannot tell v1 from v1.5 (same keys: v1.5 is assumed) nor option A from a plain
    net (same keys: residual is assumed for CIFAR nets, plain for ImageNet ones). A
    pre-act net is the one with a final BN (`final_bn`) before the head.
    """
    counts: dict[int, int] = {}
    for key in converted:
        if m := _BLOCK.match(key):
            counts[int(m[1])] = max(counts.get(int(m[1]), 0), int(m[2]) + 1)
    layers = tuple(counts.get(i, 0) for i in range(1, len(counts) + 1))
    has_projection = any(_DOWNSAMPLE.match(k) for k in converted)
    bottleneck = "layer1.0.conv3.weight" in converted
    preact = "final_bn.weight" in converted
    cifar_variant = PREACT if preact else "paper"
    if len(layers) == 3 and len(set(layers)) == 1:
        if bottleneck:  # He et al. 2016b: 9n+2 layers
            return compose_name("cifar-bottleneck", 9 * layers[0] + 2, variant=cifar_variant)
        return compose_name("cifar", 6 * layers[0] + 2, variant=cifar_variant)  # section 4.2: 6n+2
    block = "bottleneck" if bottleneck else "basic"
    depth = next((d for d, (b, ls) in IMAGENET_LAYERS.items() if (b, ls) == (block, layers)), None)
    if depth is None:
        return None
    stem = converted.get("conv1.weight")
    family, variant = "imagenet", "v1.5"
    if preact:
        variant = PREACT
    elif "conv1.0.weight" in converted:
        variant = "v1d" if any(".downsample.2." in k for k in converted) else "v1c"
    elif stem is not None and stem.ndim == 4 and stem.shape[-1] == 3:
        family = "imagenet-cifar"
    return compose_name(family, depth, plain=not has_projection, variant=variant)
