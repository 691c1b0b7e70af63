"""The images an evaluation runs on: a dataset's test split at the checkpoint's input.

Two paths, as for training (CONVENTIONS section 4):
- images already at the network's input size (CIFAR at 32 px) are decoded once, in
  threads, into one uint8 tensor and normalised on the device batch by batch; they
  are used as they are, as mmpretrain and akamaster evaluate them;
- any other size goes through torchvision's evaluation transform on the PIL image
  (resize the shorter side, centre crop, normalise; `core.images.preprocess`), so a
  published ImageNet number is measured as it was published, in DataLoader workers.
Decoded pixels are the same on both paths (libjpeg either way), so the fast path
gives exactly what a plain PIL loop gives.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from resnet_studio.core.catalog import Preprocessing
from resnet_studio.core.data.containers import SMALL_IMAGE_MAX, ImageTensors
from resnet_studio.core.data.decode import decode_images
from resnet_studio.core.data.streaming import MemberReader
from resnet_studio.core.data.trees import Tree, find_trees, open_archive
from resnet_studio.core.errors import DataError, ImageError

Progress = Callable[[int, int], None]
DATASET_KINDS = ("zip:PATH", "folder:PATH", "cifar10", "cifar100")


@dataclass
class EvalData:
    """A split to evaluate: images in memory (fast path) or files (transform path)."""

    name: str  # as shown: "test.zip (test/)", "CIFAR-10 test"
    class_names: list[str]
    labels: torch.Tensor  # int64 [N], dataset label order
    tensors: ImageTensors | None  # uint8 at the input size, when they fit as they are
    files: _Files | None  # otherwise: files, decoded and transformed per image
    jpeg: bool  # the pixels went through JPEG (the README's CIFAR-10 caveat)
    skipped: int = 0  # files that would not decode

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, prep: Preprocessing, batch_size: int, device: torch.device,
                interpolation: str = "bilinear",
                workers: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(normalised float32 [B,3,S,S] on `device`, dataset labels [B] on `device`);
        labels of files that failed to decode are -1 (counted, not scored)."""
        if self.tensors is not None:
            yield from _tensor_batches(self.tensors, prep, batch_size, device)
            return
        assert self.files is not None
        self.files.prep, self.files.interpolation = prep, interpolation
        workers = min(4, os.cpu_count() or 1) if workers is None else workers
        loader = torch.utils.data.DataLoader(self.files, batch_size=batch_size,
                                             num_workers=workers, shuffle=False)  # fmt: skip
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def normalise_batch(images: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 [B,3,H,W] -> float32 normalised with torchvision's own functions, so every
    value equals what `core.images.preprocess` gives for the same pixels."""
    from torchvision.transforms.v2 import functional as F

    x = F.to_dtype(images, torch.float32, scale=True)
    return F.normalize(x, mean=list(prep.mean), std=list(prep.std))


def _tensor_batches(tensors: ImageTensors, prep: Preprocessing, batch_size: int,
                    device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(tensors), batch_size):
        images = tensors.images[start:start + batch_size].to(device, non_blocking=True)
        yield normalise_batch(images, prep), tensors.labels[start:start + batch_size].to(device)


class _Files(torch.utils.data.Dataset):
    """Files of a folder or zip, each decoded with Pillow and put through the evaluation
    transform in a DataLoader worker (a zip is opened once per worker process)."""

    def __init__(self, source: Path, is_zip: bool, members: list[str], labels: list[int]) -> None:
        self.source, self.is_zip, self.members, self.labels = source, is_zip, members, labels
        self.prep: Preprocessing | None = None
        self.interpolation = "bilinear"
        self._reader = MemberReader(source, members, is_zip)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        assert self.prep is not None
        try:
            image = _load(self._read(i))
        except ImageError:
            size = self.prep.input_size
            return torch.zeros(3, size, size), -1
        return transform(image, self.prep, self.interpolation), self.labels[i]

    def _read(self, i: int) -> bytes:
        return self._reader.read(i)


def _load(blob: bytes):  # noqa: ANN202 (a PIL image)
    from resnet_studio.core.images import load_image

    return load_image(blob)


def transform(image, prep: Preprocessing, interpolation: str = "bilinear") -> torch.Tensor:  # noqa: ANN001
    """torchvision's evaluation transform of one PIL image: `core.images.preprocess`
    (bilinear), or the same steps with bicubic resizing (timm's RSB recipes)."""
    from resnet_studio.core.images import preprocess

    if interpolation == "bilinear":
        return preprocess(image, prep)
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    mode = InterpolationMode(interpolation)
    image = F.resize(image, [prep.resize_size], interpolation=mode, antialias=True)
    image = F.center_crop(image, [prep.input_size])
    x = F.to_dtype(F.to_image(image), torch.float32, scale=True)
    return F.normalize(x, mean=list(prep.mean), std=list(prep.std)).as_subclass(torch.Tensor)


# ---------------------------------------------------------------------------- opening


def open_eval_data(spec: str, input_size: int, *, limit: int | None = None,
                   root: str | Path | None = None, progress: Progress | None = None,
                   check: Callable[[list[str]], object] | None = None) -> EvalData:
    """The test split of `spec` ("zip:PATH", "folder:PATH", "cifar10", "cifar100").

    A zip or folder with `test/` (or `val/`) beside `train/` gives that split; any
    other ImageFolder tree (test.zip holding test/<class>/..., an ImageNet val folder)
    is evaluated whole. `limit` keeps N images spread evenly over the split (every
    class, not the first one's N). `check(class_names)` runs before any image is
    decoded, so a dataset the network cannot be scored on fails at once.
    """
    check = check or (lambda names: None)
    kind, _, arg = spec.partition(":")
    if kind in ("cifar10", "cifar100") and not arg:
        data = _cifar(kind, input_size, limit, root)
        check(data.class_names)
        return data
    if kind in ("zip", "folder") and arg:
        return _tree(kind, Path(arg).expanduser(), input_size, limit, progress, check)
    raise DataError(f"Unknown dataset {spec!r} for evaluation; use {', '.join(DATASET_KINDS)}.")


def _spread(n: int, limit: int | None) -> list[int]:
    if limit is None or limit >= n:
        return list(range(n))
    if limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    return [i * n // limit for i in range(limit)]


def _cifar(kind: str, input_size: int, limit: int | None, root: str | Path | None) -> EvalData:
    from resnet_studio.core.data import load_dataset

    ds = load_dataset(kind, root=root)
    assert isinstance(ds.test, ImageTensors)
    test = ds.test.subset(torch.tensor(_spread(len(ds.test), limit)))
    data = EvalData(f"{ds.name} test", list(ds.class_names), test.labels, test, None, False)
    if input_size != ds.image_size:  # e.g. a 224-px net: resize and crop as torchvision does
        data.tensors, data.files = None, _TensorImages(test)
    return data


class _TensorImages(_Files):
    """In-memory images that need the transform path (another input size)."""

    def __init__(self, tensors: ImageTensors) -> None:
        super().__init__(Path(), False, [""] * len(tensors), tensors.labels.tolist())
        self.tensors = tensors

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        assert self.prep is not None
        image = Image.fromarray(self.tensors.images[i].permute(1, 2, 0).numpy())
        return transform(image, self.prep, self.interpolation), self.labels[i]


def _tree(kind: str, path: Path, input_size: int, limit: int | None,
          progress: Progress | None, check: Callable[[list[str]], object]) -> EvalData:
    archive = open_archive(path, kind)
    try:
        train, test = find_trees(archive)
        tree, where = (test, "test split") if test is not None else (train, "all images")
        check(tree.class_names)
        keep = _spread(len(tree.members), limit)
        tree = Tree(archive, tree.class_names, [tree.members[i] for i in keep],
                    [tree.labels[i] for i in keep])
        name = f"{path.name} ({where}{', ' + str(len(keep)) + ' images' if limit else ''})"
        jpeg = _mostly_jpeg(tree.members)
        side = _first_size(tree)
        if side == (input_size, input_size) and input_size <= SMALL_IMAGE_MAX:
            tensors, skipped = decode_images(tree, input_size, progress)
            return EvalData(name, tree.class_names, tensors.labels, tensors, None, jpeg, skipped)
    finally:
        archive.close()
    files = _Files(path, kind == "zip", tree.members, tree.labels)
    return EvalData(name, tree.class_names, torch.tensor(tree.labels), None, files, jpeg)


def _mostly_jpeg(members: list[str]) -> bool:
    jpegs = sum(m.lower().endswith((".jpg", ".jpeg")) for m in members)
    return jpegs * 2 > len(members)


def _first_size(tree: Tree) -> tuple[int, int] | None:
    """(width, height) of the first image that opens, from its header."""
    from PIL import Image

    for name in tree.members[:8]:
        try:
            with Image.open(io.BytesIO(tree.archive.read(name))) as img:
                return img.size
        except Exception:  # noqa: BLE001, S112 (counted when decoding)
            continue
    return None
