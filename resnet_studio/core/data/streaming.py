"""Large images streamed through DataLoader workers with torchvision transforms."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from resnet_studio.core.catalog import IMAGENET_MEAN, IMAGENET_STD
from resnet_studio.core.data.containers import Dataset
from resnet_studio.core.data.decode import decode_one
from resnet_studio.core.errors import DataError

# --------------------------------------------------------------------------- streaming


class MemberReader:
    """The bytes of a folder's or a zip's members by index, for DataLoader workers.

    A zip is opened lazily once per process: a ZipFile handle cannot cross fork, so a
    pickled copy (what a worker gets) drops it and the worker opens its own."""

    def __init__(self, source: Path, members: list[str], is_zip: bool | None = None) -> None:
        self.source, self.members = source, members
        self.is_zip = source.is_file() if is_zip is None else is_zip
        self._zip: tuple[int, zipfile.ZipFile] | None = None

    def read(self, i: int) -> bytes:
        if not self.is_zip:
            return (self.source / self.members[i]).read_bytes()
        if self._zip is None or self._zip[0] != os.getpid():
            self._zip = (os.getpid(), zipfile.ZipFile(self.source))
        return self._zip[1].read(self.members[i])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None}  # workers open their own handle


class ImageFiles(torch.utils.data.Dataset):
    """Large images decoded on demand (in DataLoader workers), for the ImageNet path.

    A zip is opened lazily once per worker process: ZipFile handles cannot cross fork.
    A file that fails to decode is replaced by the next one that does (deterministic),
    and counted in `failed` of that worker, so one bad file does not stop an epoch.
    """

    def __init__(self, source: Path, members: list[str], labels: list[int]) -> None:
        self.source, self.members, self.labels = source, members, labels
        self.failed = 0
        self._reader = MemberReader(source, members)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        for k in range(len(self.members)):
            i = (index + k) % len(self.members)
            img = decode_one(self._reader.read(i))
            if img is not None:
                return img, self.labels[i]
            self.failed += 1
        raise DataError(f"No image in {self.source} could be decoded.")


def imagenet_transforms(train: bool, size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                        std: Sequence[float] = IMAGENET_STD) -> Callable:
    """Paper section 3.4: scale augmentation (RandomResizedCrop) + flip for training;
    resize to 256 and centre-crop 224 (scaled with `size`) for evaluation."""
    from torchvision.transforms import v2

    if train:
        geometry = [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
    else:
        geometry = [v2.Resize(round(size * 256 / 224), antialias=True), v2.CenterCrop(size)]
    return v2.Compose([*geometry, v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])


class Transformed(torch.utils.data.Dataset):
    """A split seen through a transform; train and val of one `ImageFiles` share files
    but not transforms, so the transform lives here rather than on the files."""

    def __init__(self, split: torch.utils.data.Dataset, transform: Callable) -> None:
        self.split, self.transform = split, transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img, label = self.split[index]
        return self.transform(img), label


def make_loader(split: torch.utils.data.Dataset, batch_size: int, *, train: bool,
                image_size: int = 224, workers: int | None = None, seed: int = 0,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A DataLoader over a large-image split with the ImageNet transforms.

    The shuffle generator is seeded from `seed`, so the order is reproducible; torch
    derives each worker's seed (and so its random crops) from the same generator.
    """
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    return torch.utils.data.DataLoader(
        Transformed(split, imagenet_transforms(train, image_size)), batch_size=batch_size,
        shuffle=train, drop_last=train, num_workers=workers, pin_memory=pin_memory,
        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(seed),
    )


def describe(ds: Dataset) -> dict[str, object]:
    """A JSON-ready summary saved beside a run (sizes, classes, statistics)."""
    size = lambda split: None if split is None else len(split)  # noqa: E731
    return {"name": ds.name, "classes": list(ds.class_names), "image_size": ds.image_size,
            "train": size(ds.train), "val": size(ds.val), "test": size(ds.test),
            "skipped_files": ds.skipped_files, "mean": list(ds.mean), "std": list(ds.std)}

