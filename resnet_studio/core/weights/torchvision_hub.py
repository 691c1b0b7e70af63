"""torchvision's pretrained ResNets: which enum a source names, and where it is cached.

Files go where torch.hub keeps them (`$TORCH_HOME/hub/checkpoints/<name from the
URL>`), so weights already fetched by torchvision or timm are reused; the download
itself is `download.py`'s (progress, cancel, hash check, mirror).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from resnet_studio.core.catalog import IMAGENET_LAYERS, compose_name
from resnet_studio.core.errors import WeightsError
from resnet_studio.core.weights.download import (  # noqa: F401 (download, CHUNK_BYTES: API)
    CHUNK_BYTES,
    Progress,
    cache_path_for,
    download,
)
from resnet_studio.core.weights.download import fetch as fetch_url

PREFIX = "torchvision"
DEPTHS = tuple(IMAGENET_LAYERS)  # torchvision ships v1.5 weights for every Table 1 depth
PRETRAINED_NAMES = tuple(compose_name("imagenet", d) for d in DEPTHS)


def is_torchvision_source(source: Any) -> bool:
    """`"torchvision"` or `"torchvision:ResNet50_Weights.IMAGENET1K_V2"` (strings only,
    so a file that happens to be called `torchvision` is still read via a Path)."""
    return isinstance(source, str) and (source == PREFIX or source.startswith(PREFIX + ":"))


def resolve(source: str, model_name: str | None) -> tuple[Any, str]:
    """The weights enum member a source names, and the zoo name it fits."""
    spec = source.removeprefix(PREFIX).removeprefix(":").strip()
    if not spec:
        if model_name not in PRETRAINED_NAMES:
            raise WeightsError(_no_weights_message(model_name))
        spec = f"ResNet{model_name.removeprefix('resnet')}_Weights.DEFAULT"
    enum_name, _, member = spec.partition(".")
    match = re.fullmatch(r"ResNet(\d+)_Weights", enum_name)
    if not match or int(match[1]) not in DEPTHS:
        raise WeightsError(
            f"{source!r}: resnet-studio reads torchvision's "
            f"ResNet{{{','.join(map(str, DEPTHS))}}}_Weights, "
            "e.g. 'torchvision:ResNet50_Weights.IMAGENET1K_V2'."
        )
    import torchvision.models

    enum = getattr(torchvision.models, enum_name)
    try:
        weights = enum[member or "DEFAULT"]
    except KeyError:
        members = ", ".join(m for m in enum.__members__ if m != "DEFAULT")
        raise WeightsError(f"{enum_name} has no {member!r}; choose one of {members}.") from None
    name = compose_name("imagenet", int(match[1]))
    if model_name is not None and model_name != name:
        raise WeightsError(f"{enum_name}.{member} holds {name} weights, not {model_name}.")
    return weights, name


def _no_weights_message(model_name: str | None) -> str:
    which = f"{model_name} has" if model_name else "this model has"
    return (
        f"{which} no pretrained torchvision weights; torchvision has them for "
        f"{', '.join(PRETRAINED_NAMES)} only (the v1.5 nets). Train it, or load a file."
    )


def cache_path(weights: Any) -> Path:
    """Where torch.hub keeps (and we look for) the file of a weights enum member."""
    return cache_path_for(weights.url)


def fetch(weights: Any, progress: Progress | None = None) -> Path:
    """The cached file of `weights`, downloading it first if needed (no network if cached)."""
    return fetch_url(weights.url, progress=progress)


def preprocessing_hint(weights: Any) -> dict[str, Any]:
    """The evaluation transform the weights were measured with (V2: resize 232, not 256)."""
    keywords = getattr(weights.transforms, "keywords", {})
    crop = int(keywords.get("crop_size", 224))
    return {"input_size": crop, "resize_size": int(keywords.get("resize_size", 256))}
