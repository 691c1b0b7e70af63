"""The containers every dataset path fills: splits as uint8 tensors, normalisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

from resnet_studio.core.catalog import IMAGE_SUFFIXES, IMAGENET_MEAN, IMAGENET_STD

Progress = Callable[[int, int], None]  # progress(done, total), e.g. files decoded
NormKind = Literal["per-pixel", "per-channel"]

SMALL_IMAGE_MAX = 64  # px: at or below, images are decoded once and kept as one tensor
# str.endswith takes a tuple
IMAGE_EXTENSIONS = tuple(sorted(IMAGE_SUFFIXES))


# --------------------------------------------------------------------------- containers


@dataclass
class ImageTensors:
    """A whole split of small images in memory: uint8 [N,3,H,W] and int64 labels [N]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 [N,3,H,W], got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError("labels must be int64 [N] matching images")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> ImageTensors:
        return ImageTensors(self.images[index], self.labels[index])


@dataclass
class Normalize:
    """How batches are normalised; built by `Dataset.normalize`.

    "per-pixel" subtracts the mean image of the training set (paper section 4.2, CIFAR);
    "per-channel" subtracts the channel mean and divides by the channel std (the usual
    ImageNet practice). Inputs are in [0, 1].
    """

    kind: NormKind
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mean_image: torch.Tensor | None = None  # float32 [3,H,W] in [0, 1], per-pixel only

    def __post_init__(self) -> None:
        if self.kind not in ("per-pixel", "per-channel"):
            raise ValueError(f"normalization must be 'per-pixel' or 'per-channel', got {self.kind!r}")
        if self.kind == "per-pixel" and self.mean_image is None:
            raise ValueError("per-pixel normalization needs the training set's mean image")

    def to(self, device: torch.device | str) -> _DeviceNorm:
        """Offset and scale as device tensors, so that applying them is one fused op."""
        if self.kind == "per-pixel":
            offset = self.mean_image.to(device, torch.float32)[None]
            scale = torch.ones(1, 3, 1, 1, device=device)
        else:
            offset = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
            scale = 1.0 / torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return _DeviceNorm(offset, scale)


@dataclass
class _DeviceNorm:
    offset: torch.Tensor
    scale: torch.Tensor

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B,3,H,W] -> float32, (x/255 - offset) * scale."""
        return (images.float().div_(255.0).sub_(self.offset)).mul_(self.scale)


@dataclass
class Dataset:
    """A loaded dataset: splits, class names and the training-set statistics.

    `train`/`val`/`test` are `ImageTensors` for small images, or map-style torch
    datasets yielding (uint8 CHW tensor, label) for large ones. `mean`/`std` (and
    `mean_image`) come from the training split after the validation split was carved
    out, so nothing about val or test leaks into the normalisation.
    """

    name: str
    class_names: list[str]
    image_size: int
    train: ImageTensors | torch.utils.data.Dataset
    val: ImageTensors | torch.utils.data.Dataset | None
    test: ImageTensors | torch.utils.data.Dataset | None
    skipped_files: int = 0  # unreadable files left out (corrupt, truncated, not an image)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    mean_image: torch.Tensor | None = field(default=None, repr=False)

    @property
    def in_memory(self) -> bool:
        """True when the splits are tensors (use `DeviceBatches`), else use `make_loader`."""
        return isinstance(self.train, ImageTensors)

    def normalize(self, kind: NormKind = "per-pixel") -> Normalize:
        return Normalize(kind, self.mean, self.std, self.mean_image)
