"""Reading and writing weight files of every supported format, and pretrained ones by name.

Ours are safetensors with a JSON description (model, options, class names,
preprocessing) in the header; torchvision, timm, mmpretrain and the CIFAR
reproductions' checkpoints are recognised by their keys and renamed into our layout.
Pickled files are opened with `weights_only=True` only: a file that would run code
is refused, never executed. Every failure a user can cause is a `WeightsError`.

    result = load_weights("resnet50", "torchvision:ResNet50_Weights.IMAGENET1K_V2")
    result = load_weights(None, "run/model.safetensors")  # name from the file
    result = load_weights(None, "resnet18_8xb16_cifar10")  # a catalog name: fetched once
    result = resolve_model_and_weights("resnet18_8xb16_cifar10", None)  # what the CLI calls
    wf = read_state_dict(path); conv = convert_state_dict(wf.state_dict, wf.format, "resnet18")
    conv.report.describe()  # a mismatch report, before any model is touched

Names are imported lazily (PEP 562): `pretrained` and `download` import no torch, so
listing the catalog stays instant; the first use of a loader imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CIFAR10_CLASSES": "classes", "CIFAR100_CLASSES": "classes", "CUB_CLASSES": "classes",
    "imagenet_classes": "classes", "class_list": "classes",
    "FORMAT_VERSION": "files", "META_KEY": "files", "save_weights": "files",
    "weights_metadata": "files",
    "FORMATS": "formats", "Conversion": "formats", "KeyReport": "formats",
    "convert_state_dict": "formats", "detect_format": "formats",
    "guess_model_name": "formats",
    "LoadResult": "loading", "WeightFile": "loading", "load_weights": "loading",
    "read_state_dict": "loading",
    "resolve_model_and_weights": "resolve", "network_name": "resolve",
    "weights_source": "resolve",
    "PRETRAINED_NAMES": "torchvision_hub", "cache_path": "torchvision_hub",
    "Progress": "download", "MIRROR_ENV": "download",
    "PretrainedEntry": "pretrained", "get_pretrained": "pretrained",
    "pretrained_names": "pretrained", "pretrained_entries": "pretrained",
    "find_pretrained": "pretrained", "is_cached": "pretrained",
    "is_pretrained_name": "pretrained", "fetch_pretrained": "pretrained",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
