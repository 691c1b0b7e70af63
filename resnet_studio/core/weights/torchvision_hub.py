"""torchvision's pretrained ResNets: which enum, where it is cached, and the download.

Files go where torch.hub keeps them (`$TORCH_HOME/hub/checkpoints/<name from the
URL>`), so weights already fetched by torchvision or timm are reused and a user
without internet can place the file there by hand. The download is our own loop
because torch.hub reports progress to a terminal bar only, not to a callback.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from resnet_studio.core.atomic import replacing
from resnet_studio.core.catalog import IMAGENET_LAYERS, compose_name
from resnet_studio.core.errors import WeightsError

Progress = Callable[[int, int], None]  # (bytes done, bytes in all; 0 when unknown)

PREFIX = "torchvision"
DEPTHS = tuple(IMAGENET_LAYERS)  # torchvision ships v1.5 weights for every Table 1 depth
PRETRAINED_NAMES = tuple(compose_name("imagenet", d) for d in DEPTHS)
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30  # per socket operation, not the whole download
_HASH = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's convention: name-<sha256 prefix>.pth


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
    filename = os.path.basename(urllib.parse.urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def fetch(weights: Any, progress: Progress | None = None) -> Path:
    """The cached file of `weights`, downloading it first if needed (no network if cached)."""
    path = cache_path(weights)
    if not path.is_file():
        download(weights.url, path, progress)
    return path


def download(url: str, dest: Path, progress: Progress | None = None) -> None:
    """Download `url` to `dest` atomically, checking torch.hub's hash prefix in the name.

    `progress(done, total)` is called after every chunk; it may raise to cancel, and
    then, as on any failure, the partial file is removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with replacing(dest, suffix=".partial") as tmp:
        with open(tmp, "wb") as out:
            digest = _copy_url(url, out, dest, progress)
        expected = _HASH.search(dest.name)
        if expected and not digest.startswith(expected[1]):
            raise WeightsError(
                f"The download of {url} is damaged (sha256 {digest[:12]}..., expected "
                f"{expected[1]}...). Try again, or place the file at {dest} by hand."
            )


def _copy_url(url: str, out: Any, dest: Path, progress: Progress | None) -> str:
    sha = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "resnet-studio"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # offline, DNS, refused, timeout, cut-off response, full disk
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"Could not download {url} ({reason}). Check the internet connection, or "
            f"download the file on another machine and place it at {dest}."
        ) from exc
    return sha.hexdigest()


def preprocessing_hint(weights: Any) -> dict[str, Any]:
    """The evaluation transform the weights were measured with (V2: resize 232, not 256)."""
    keywords = getattr(weights.transforms, "keywords", {})
    crop = int(keywords.get("crop_size", 224))
    return {"input_size": crop, "resize_size": int(keywords.get("resize_size", 256))}
