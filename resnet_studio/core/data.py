"""Datasets and the on-device batch loader.

Two paths, chosen by image size (CONVENTIONS section 4):
- small images (<= 64 px: CIFAR, the synthetic set, small folders) live on the training
  device as ONE uint8 tensor [N,3,H,W]; `DeviceBatches` shuffles, pads, crops, flips and
  normalises whole batches there with a handful of tensor ops. uint8 is 4x smaller than
  float32 and decoding happens once, so an epoch costs no Python per sample.
- larger images (ImageNet-like folders) stream from disk through a torch `DataLoader`
  with workers and torchvision transforms v2 (`make_loader`).

Dataset specs accepted by `load_dataset`: "synthetic", "cifar10", "cifar100",
"folder:PATH" and "zip:PATH" (an ImageFolder tree, or a zip holding one).
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DataError

Progress = Callable[[int, int], None]  # progress(done, total), e.g. files decoded
NormKind = Literal["per-pixel", "per-channel"]

SMALL_IMAGE_MAX = 64  # px: at or below, images are decoded once and kept as one tensor
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics, RGB in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 20_000, 2_000  # sizes of the embedded set
_CACHE_VERSION = 1  # bump when the decoded-cache layout changes


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


# --------------------------------------------------------------------------- entry point


def default_root() -> Path:
    """Where downloads and decoded caches live: $RESNET_STUDIO_DATA or ~/.cache/resnet-studio."""
    env = os.environ.get("RESNET_STUDIO_DATA")
    return Path(env) if env else Path.home() / ".cache" / "resnet-studio" / "data"


def load_dataset(
    spec: str,
    *,
    root: str | Path | None = None,
    download: bool = False,
    val_size: int | float = 0,
    seed: int = 0,
    image_size: int | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load a dataset by spec and carve a stratified validation split from its train split.

    spec: "synthetic" | "cifar10" | "cifar100" | "folder:PATH" | "zip:PATH".
    val_size: images (int) or fraction of train (float) held out for validation; the
    paper's CIFAR setting is 5000.
    seed: the seed of the *data*: the validation split and the synthetic images. Keep
    it fixed across runs that are compared; the trainer's own seed drives the weights
    and the batch order (DeviceBatches).
    image_size: for "synthetic" the rendered size (default 32); for folders/zips of small
    images the size every image is resized to (default: as stored); for large images
    the training crop (default 224).
    cache_dir: where decoded folders/zips are cached (default `<root>/decoded`).
    """
    root = Path(root) if root is not None else default_root()
    kind, _, arg = spec.partition(":")
    if kind == "synthetic" and not arg:
        ds = _load_synthetic(image_size or 32, seed)
    elif kind in ("cifar10", "cifar100") and not arg:
        ds = _load_cifar(kind, root, download)
        if image_size and image_size != ds.image_size:  # e.g. 16 px for the CPU demo
            ds.train, ds.test = (_resized(s, image_size) for s in (ds.train, ds.test))
            ds.image_size = image_size
    elif kind in ("folder", "zip") and arg:
        ds = _load_tree(kind, Path(arg).expanduser(), image_size,
                        Path(cache_dir) if cache_dir else root / "decoded", progress)
    else:
        raise DataError(f"Unknown dataset {spec!r}. Use 'synthetic', 'cifar10', 'cifar100', "
                        "'folder:PATH' (an ImageFolder tree) or 'zip:PATH' (a zip of one).")
    if val_size:
        ds.train, ds.val = split_train_val(ds.train, val_size, seed)
    if ds.in_memory:
        ds.mean, ds.std, ds.mean_image = image_statistics(ds.train.images)
    return ds


def _load_synthetic(image_size: int, seed: int) -> Dataset:
    from .synthetic import CLASS_NAMES, make_synthetic

    # Train and test from different seeds: the test images are new draws, not copies.
    train = ImageTensors(*make_synthetic(SYNTHETIC_TRAIN, image_size, seed))
    test = ImageTensors(*make_synthetic(SYNTHETIC_TEST, image_size, seed + 1_000_003))
    return Dataset("synthetic", list(CLASS_NAMES), image_size, train, None, test)


# --------------------------------------------------------------------------- splits, stats


def split_train_val(
    train: ImageTensors | torch.utils.data.Dataset, val_size: int | float, seed: int = 0
) -> tuple[ImageTensors | torch.utils.data.Dataset, ImageTensors | torch.utils.data.Dataset]:
    """Hold out `val_size` images (or that fraction) of train, stratified by class.

    Stratified so that a small validation set still has every class in proportion; the
    order within each class is a permutation drawn from `seed`, so the split is the same
    on every run.
    """
    labels = _labels_of(train)
    n = len(labels)
    count = round(val_size * n) if isinstance(val_size, float) else int(val_size)
    if not 0 < count < n:
        raise DataError(f"Validation size {val_size} leaves no training or no validation "
                        f"images out of {n}; pick a size between 1 and {n - 1}.")
    gen = torch.Generator().manual_seed(seed)
    classes, counts = labels.unique(return_counts=True)
    # Largest-remainder rounding: per-class shares that add up to exactly `count`.
    exact = counts.double() * count / n
    take = exact.floor().long()
    extra = count - int(take.sum())
    take[torch.argsort(exact - take, descending=True)[:extra]] += 1
    val_parts = []
    for cls, k in zip(classes.tolist(), take.tolist(), strict=True):
        members = (labels == cls).nonzero().flatten()
        val_parts.append(members[torch.randperm(len(members), generator=gen)[:k]])
    is_val = torch.zeros(n, dtype=torch.bool)
    is_val[torch.cat(val_parts)] = True
    train_idx, val_idx = (~is_val).nonzero().flatten(), is_val.nonzero().flatten()
    if isinstance(train, ImageTensors):
        return train.subset(train_idx), train.subset(val_idx)
    return (torch.utils.data.Subset(train, train_idx.tolist()),
            torch.utils.data.Subset(train, val_idx.tolist()))


def _labels_of(split: ImageTensors | torch.utils.data.Dataset) -> torch.Tensor:
    if isinstance(split, ImageTensors):
        return split.labels
    return torch.as_tensor(split.labels, dtype=torch.long)  # ImageFiles keeps its labels


def image_statistics(
    images: torch.Tensor,
) -> tuple[tuple[float, float, float], tuple[float, float, float], torch.Tensor]:
    """Channel mean and std and the per-pixel mean image (float32 [3,H,W]), in [0, 1].

    Exact and cheap on uint8: chunked sums for the mean image (an int64 reduction over
    dim 0 is several times slower) and, per channel, a 256-bin histogram from which the
    mean and the mean square follow. No float copy of the whole set is ever made.
    """
    n, channels, h, w = images.shape
    flat = images.reshape(n, -1)
    total = torch.zeros(flat.shape[1], dtype=torch.float64)
    for start in range(0, n, 4096):  # float32 sums of 4096 bytes are exact (< 2**24)
        total += flat[start:start + 4096].float().sum(0).double()
    mean_image = (total / n / 255.0).view(channels, h, w)
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for c in range(channels):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).double()
        mean = float((counts * values).sum()) / (n * h * w)
        square = float((counts * values.square()).sum()) / (n * h * w)
        means.append(mean)
        stds.append(max(square - mean**2, 0.0) ** 0.5)
    return tuple(means), tuple(stds), mean_image.float()


# --------------------------------------------------------------------------- CIFAR


def _load_cifar(kind: str, root: Path, download: bool) -> Dataset:
    """CIFAR-10/100 through torchvision; offline, a DataError saying which file goes where."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
    # With the archive already in root, torchvision's "download" only checks its md5 and
    # extracts it: no network, so a hand-copied archive just works.
    fetch = download or (root / cls.filename).is_file()
    try:
        train = cls(str(root), train=True, download=fetch)
        test = cls(str(root), train=False, download=fetch)
    except Exception as exc:  # noqa: BLE001 (offline: URLError, RuntimeError, OSError...)
        raise DataError(_cifar_missing_message(cls, root, download, exc)) from exc
    to_tensors = lambda d: ImageTensors(  # noqa: E731
        torch.from_numpy(d.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(d.targets))
    name = "CIFAR-10" if kind == "cifar10" else "CIFAR-100"
    return Dataset(name, list(train.classes), 32, to_tensors(train), None, to_tensors(test))


def _resized(split: ImageTensors, size: int, chunk: int = 4096) -> ImageTensors:
    """The split resized (antialiased bilinear) to size x size, in chunks."""
    parts = [_fit_batch(split.images[i:i + chunk], size) for i in range(0, len(split), chunk)]
    return ImageTensors(torch.cat(parts), split.labels)


def _cifar_missing_message(cls: type, root: Path, download: bool, exc: Exception) -> str:
    what = "could not be downloaded" if download else "is not there"
    return (f"{cls.__name__} {what} ({type(exc).__name__}: {exc}). Download {cls.url} "
            f"(md5 {cls.tgz_md5}) on a machine with internet access and put it at "
            f"{root / cls.filename}; it is unpacked into {root / cls.base_folder} on the next "
            "load. Or choose another data folder.")


# --------------------------------------------------------------------------- folders, zips


class _Archive:
    """Read access to the files of a folder or a zip, opened once per load.

    Opening a zip parses its whole central directory (about 1 s for CIFAR's 50k
    members), so one handle serves scanning, peeking and decoding. Stored (uncompressed)
    members are sliced straight out of a memory map, which is ~10x faster than
    `ZipFile.read` per member; compressed members go through zipfile.
    """

    def __init__(self, path: Path, is_zip: bool) -> None:
        self.path, self.is_zip = path, is_zip
        self._zip: zipfile.ZipFile | None = None
        self._map: mmap.mmap | None = None
        if is_zip:
            self._zip = zipfile.ZipFile(path)  # BadZipFile/OSError: handled by the caller
            self._infos = {i.filename: i for i in self._zip.infolist()}
            with open(path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def names(self) -> tuple[list[str], list[str]]:
        """Relative POSIX paths of all files and of all folders."""
        if self._zip is not None:
            files = [n for n, i in self._infos.items() if not i.is_dir()]
            dirs = [n.rstrip("/") for n, i in self._infos.items() if i.is_dir()]
            return sorted(files), sorted(dirs)
        files, dirs = [], []
        for here, subdirs, names in os.walk(self.path):
            rel = Path(here).relative_to(self.path).as_posix()
            prefix = "" if rel == "." else rel + "/"
            dirs += [prefix + d for d in subdirs]
            files += [prefix + n for n in names]
        return sorted(files), sorted(dirs)

    def read(self, name: str) -> bytes:
        if self._zip is None:
            return (self.path / name).read_bytes()
        info = self._infos[name]
        if info.compress_type == zipfile.ZIP_STORED and self._map is not None:
            # Local header: 30 bytes, then the name and an extra field of their own lengths.
            at = info.header_offset
            if self._map[at:at + 4] == b"PK\x03\x04":
                name_len, extra_len = struct.unpack("<HH", self._map[at + 26:at + 30])
                start = at + 30 + name_len + extra_len
                return self._map[start:start + info.compress_size]
        return self._zip.read(info)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._zip is not None:
            self._zip.close()


def _open_archive(path: Path, kind: str) -> _Archive:
    if kind == "zip":
        if not path.is_file():
            raise DataError(f"Zip file {path} does not exist. Pick an existing .zip file.")
        try:
            return _Archive(path, True)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable zip file ({exc}). Give a .zip holding "
                            "an ImageFolder tree (one folder per class), or use "
                            "'folder:PATH'.") from exc
    if not path.exists():
        raise DataError(f"Dataset folder {path} does not exist. Pick an existing folder.")
    if not path.is_dir():
        raise DataError(f"{path} is a file, not a folder. For a zip use 'zip:{path}'.")
    return _Archive(path, False)


@dataclass
class _Tree:
    """An ImageFolder tree, before decoding: where each image is and its class."""

    archive: _Archive
    class_names: list[str]
    members: list[str]  # paths relative to the folder, or zip member names
    labels: list[int]


def _load_tree(kind: str, path: Path, image_size: int | None, cache_dir: Path,
               progress: Progress | None) -> Dataset:
    """A folder or zip of one ImageFolder tree, plus its test split when one is found.

    A test split is looked for as a `test/` (or `val/`) tree beside `train/` inside the
    folder or zip, or as a sibling named like PATH with "train" replaced by "test"
    (train.zip -> test.zip), which is how the shared CIFAR-10 JPEG copy is laid out.
    Small images are decoded once and cached; a cache hit skips even the scan.
    """
    sibling = _sibling_test_path(path)
    key = _cache_key(kind, path, sibling, image_size)
    cached = _read_cache(cache_dir / f"{path.name}-{key}") if key else None
    if cached is not None:
        return cached
    archives = [_open_archive(path, kind)]
    try:
        train_tree, test_tree = _trees_from_names(archives[0])
        if test_tree is None and sibling is not None:
            test_tree = _sibling_test_tree(sibling, kind, archives)
        if test_tree is not None and test_tree.class_names != train_tree.class_names:
            test_tree = None  # a test split with other classes would mislabel every image
        if _peek_size(train_tree) > SMALL_IMAGE_MAX and (image_size or 999) > SMALL_IMAGE_MAX:
            return _streaming_dataset(path, train_tree, test_tree, image_size or 224)
        train, skipped = decode_images(train_tree, image_size, progress)
        size = int(train.images.shape[-1])
        test = None
        if test_tree is not None:
            test, test_skipped = decode_images(test_tree, size, progress)
            skipped += test_skipped
    finally:
        for archive in archives:
            archive.close()
    ds = Dataset(path.name, train_tree.class_names, size, train, None, test, skipped)
    if key:
        _write_cache(cache_dir / f"{path.name}-{key}", ds)
    return ds


def _streaming_dataset(path: Path, train: _Tree, test: _Tree | None, size: int) -> Dataset:
    files = lambda t: ImageFiles(t.archive.path, t.members, t.labels)  # noqa: E731
    return Dataset(path.name, train.class_names, size, files(train), None,
                   files(test) if test else None)


def _is_image_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _trees_from_names(archive: _Archive) -> tuple[_Tree, _Tree | None]:
    """Find the ImageFolder layout: classes directly at the top, under one wrapping
    folder (test.zip holds test/<class>/...), or under `train/` beside `test/`/`val/`."""
    files, dirs = archive.names()
    files = [f for f in files if not f.startswith("__MACOSX/")]  # macOS zip debris
    dirs = [d for d in dirs if not d.startswith("__MACOSX")]
    where = f"{'zip' if archive.is_zip else 'folder'} {archive.path}"
    if not any(_is_image_name(f) for f in files):
        raise DataError(f"The {where} holds no images ({', '.join(IMAGE_EXTENSIONS)}). An "
                        "ImageFolder tree has one sub-folder per class with the images inside.")
    tops = {f.split("/", 1)[0] for f in files if "/" in f} | {d.split("/", 1)[0] for d in dirs}
    images_at_depth_2 = any(_is_image_name(f) and f.count("/") == 1 for f in files)
    if "train" in tops and not images_at_depth_2:
        test = next((p for p in ("test", "val") if p in tops), None)
        return (_tree_at(archive, files, dirs, "train/"),
                _tree_at(archive, files, dirs, test + "/") if test else None)
    if len(tops) == 1 and not images_at_depth_2:
        return _tree_at(archive, files, dirs, next(iter(tops)) + "/"), None
    return _tree_at(archive, files, dirs, ""), None


def _tree_at(archive: _Archive, files: list[str], dirs: list[str], prefix: str) -> _Tree:
    """The tree whose class folders sit directly under `prefix`."""
    where = f"{'zip' if archive.is_zip else 'folder'} {archive.path}"
    where += f" (under {prefix})" if prefix else ""
    inner = [f[len(prefix):] for f in files if f.startswith(prefix)]
    loose = [f for f in inner if "/" not in f and _is_image_name(f)]
    if loose:
        raise DataError(f"The {where} has images outside class folders (e.g. {loose[0]}). "
                        "Put every image in a sub-folder named after its class.")
    sub = [d[len(prefix):] for d in dirs if d.startswith(prefix) and d[len(prefix):]]
    classes = sorted({f.split("/", 1)[0] for f in inner if "/" in f}
                     | {d.split("/", 1)[0] for d in sub})
    if len(classes) < 2:
        raise DataError(f"The {where} has {len(classes) or 'no'} class folder(s) "
                        f"{', '.join(classes)}; a classifier needs at least two. An ImageFolder "
                        "tree has one sub-folder per class with the images inside.")
    by_class: dict[str, list[str]] = {c: [] for c in classes}
    for f in inner:
        if "/" in f and _is_image_name(f):
            by_class[f.split("/", 1)[0]].append(prefix + f)
    empty = [c for c, names in by_class.items() if not names]
    if empty:
        raise DataError(f"Class folder(s) {', '.join(empty)} in the {where} hold no images. "
                        "Add images or remove the empty folder(s).")
    members = [m for c in classes for m in sorted(by_class[c])]
    labels = [i for i, c in enumerate(classes) for _ in by_class[c]]
    return _Tree(archive, classes, members, labels)


def _sibling_test_path(path: Path) -> Path | None:
    if "train" not in path.name:
        return None
    sibling = path.with_name(path.name.replace("train", "test"))
    return sibling if sibling.exists() else None


def _sibling_test_tree(sibling: Path, kind: str, archives: list[_Archive]) -> _Tree | None:
    try:
        archives.append(_open_archive(sibling, kind))
        train, test = _trees_from_names(archives[-1])
    except DataError:
        return None  # a broken sibling must not stop the training data from loading
    return train if test is None else test


def _peek_size(tree: _Tree) -> int:
    """Largest side of the first few images, from their headers (no full decode)."""
    from PIL import Image

    largest = 0
    for name in tree.members[:8]:
        try:
            with Image.open(io.BytesIO(tree.archive.read(name))) as img:
                largest = max(largest, *img.size)
        except Exception:  # noqa: BLE001, S112 (a corrupt file is counted when decoding)
            continue
    return largest


# --------------------------------------------------------------------------- decoding, cache


def _cache_key(kind: str, path: Path, sibling: Path | None, image_size: int | None) -> str | None:
    """Hash of what the decoded tensors depend on, or None when the path is missing.

    A zip counts by its size and mtime. A folder counts by its file names and the mtime
    of every folder in it (adding, removing or renaming files changes those); a file
    edited in place under the same name is not noticed: delete the cache for that.
    """
    h = hashlib.sha256(f"v{_CACHE_VERSION}|{kind}|{image_size}".encode())
    for p in (path, sibling):
        if p is None:
            continue
        if not p.exists():
            return None
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        if p.is_dir():
            for here, _, names in sorted(os.walk(p)):
                h.update(f"|{here}|{os.stat(here).st_mtime_ns}|{len(names)}".encode())
                h.update("/".join(sorted(names)).encode())
    return h.hexdigest()[:16]


def _write_cache(folder: Path, ds: Dataset) -> None:
    """Save decoded splits as plain .npy arrays plus a JSON note, atomically.

    .npy read with allow_pickle=False cannot run code, and reads at disk speed.
    """
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for split in ("train", "test"):
            tensors = getattr(ds, split)
            if tensors is not None:
                np.save(tmp / f"{split}_images.npy", tensors.images.numpy())
                np.save(tmp / f"{split}_labels.npy", tensors.labels.numpy())
        note = {"name": ds.name, "classes": ds.class_names, "image_size": ds.image_size,
                "skipped_files": ds.skipped_files, "has_test": ds.test is not None}
        (tmp / "dataset.json").write_text(json.dumps(note))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)  # atomic: a crash never leaves a half-written cache
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # no cache is slower, not wrong


def _read_cache(folder: Path) -> Dataset | None:
    try:
        note = json.loads((folder / "dataset.json").read_text())
        split = lambda s: ImageTensors(  # noqa: E731
            torch.from_numpy(np.load(folder / f"{s}_images.npy", allow_pickle=False)),
            torch.from_numpy(np.load(folder / f"{s}_labels.npy", allow_pickle=False)))
        test = split("test") if note["has_test"] else None
        return Dataset(note["name"], note["classes"], note["image_size"], split("train"),
                       None, test, note["skipped_files"])
    except (OSError, ValueError, KeyError):
        return None  # absent or damaged: decode again


def decode_images(tree: _Tree, image_size: int | None,
                  progress: Progress | None = None, chunk: int = 1024) -> tuple[ImageTensors, int]:
    """Decode a tree into uint8 [N,3,S,S] and count the files that would not decode.

    Chunks of JPEGs go to torchvision's batched `decode_jpeg` (about 30 us per CIFAR
    image, 3x faster than Pillow); a chunk that fails is redone file by file, so one
    corrupt file costs only itself. Bytes are read on this thread (the archive is not
    thread-safe) and chunks decode on a pool (libjpeg runs outside the GIL).
    """
    n = len(tree.members)
    first = _decode_one(tree.archive.read(tree.members[0]))
    size = image_size or (max(first.shape[1:]) if first is not None else 32)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    ok = torch.zeros(n, dtype=torch.bool)

    def work(start: int, blobs: list[bytes]) -> int:
        for i, img in enumerate(_decode_chunk(blobs), start):
            if img is not None:
                images[i] = _fit(img, size)
                ok[i] = True
        return len(blobs)

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        jobs = [pool.submit(work, s, [tree.archive.read(m) for m in tree.members[s:s + chunk]])
                for s in range(0, n, chunk)]
        done = 0
        for job in jobs:
            done += job.result()
            if progress is not None:
                progress(done, n)
    skipped = n - int(ok.sum())
    if skipped == n:
        raise DataError(f"None of the {n} images in {tree.archive.path} could be decoded. "
                        "Check that the files are images (JPEG, PNG, ...).")
    labels = torch.tensor(tree.labels)
    if skipped:
        images, labels = images[ok], labels[ok]
    return ImageTensors(images, labels), skipped


def _decode_chunk(blobs: list[bytes]) -> list[torch.Tensor | None]:
    if all(b[:3] == b"\xff\xd8\xff" for b in blobs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # see _decode_one
                from torchvision.io import ImageReadMode, decode_jpeg

                return decode_jpeg([_as_tensor(b) for b in blobs], mode=ImageReadMode.RGB)
        except Exception:  # noqa: BLE001, S110 (some file is corrupt: find it below)
            pass
    return [_decode_one(b) for b in blobs]


def _decode_one(blob: bytes) -> torch.Tensor | None:
    """One image as uint8 [3,H,W] RGB, or None when it cannot be decoded.

    torchvision 0.29 deprecates its decoders in favour of TorchCodec but they work and
    are the fastest we have; when they go, Pillow below takes over.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_image

            return decode_image(_as_tensor(blob), mode=ImageReadMode.RGB)
    except Exception:  # noqa: BLE001 (a RuntimeError, or an ImportError once removed)
        pass
    try:  # Pillow also reads what libjpeg/libpng do not (BMP, PPM, some GIFs)
        from PIL import Image

        with Image.open(io.BytesIO(blob)) as img:
            arr = np.asarray(img.convert("RGB"))
        return torch.from_numpy(arr.copy()).permute(2, 0, 1)
    except Exception:  # noqa: BLE001
        return None


def _as_tensor(blob: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8)


def _fit(img: torch.Tensor, size: int) -> torch.Tensor:
    """Resize to size x size when needed, so that all images stack."""
    if img.shape[1] == size and img.shape[2] == size:
        return img
    return _fit_batch(img[None], size)[0]


def _fit_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [B,3,h,w] -> uint8 [B,3,size,size], antialiased bilinear (no aliasing when
    shrinking, which is what Pillow's resize does too)."""
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear",
                        antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------- device batches


def crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
              pad: int) -> torch.Tensor:
    """Zero-pad by `pad`, crop back to size at per-sample offsets, then mirror where flipped.

    One advanced-indexing gather does crop and flip for the whole batch (no Python per
    sample). offsets: int [B,2] (row, col) in [0, 2*pad]; an offset of (pad, pad) is the
    uncropped image. The result has channels_last strides; call `.contiguous()` for NCHW.
    """
    b, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    dev = images.device
    rows = offsets[:, :1] + torch.arange(h, device=dev)  # [B,H]
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = offsets[:, 1:] + torch.where(flips[:, None], w - 1 - cols, cols)  # [B,W]
    batch = torch.arange(b, device=dev)[:, None, None]
    # Advanced indices around a slice: the result is [B,H,W,C].
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for one epoch, so nearby (seed, epoch) pairs are unrelated."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0] >> 1)


class DeviceBatches:
    """Batches of an in-memory split, shuffled and augmented on the training device.

    The whole split is moved to `device` once as uint8. Each epoch draws, on CPU from a
    generator seeded by (seed, epoch), one permutation and one crop offset and flip bit
    per *position* in the epoch; so the batches of an epoch are the same on every run and
    `epoch(e, start_batch=k)` yields exactly the tail of `epoch(e)` (exact resume).

    train=True shuffles and (unless augment=False) pads by `pad`, crops back at random and
    flips at random (section 4.2); train=False keeps the order and the images as they are.

    batch_size is the global batch: with `world_size` > 1 each rank gets a disjoint
    contiguous slice of batch_size // world_size of every global batch, so DDP sees the
    very batches a single process would.
    """

    def __init__(
        self,
        data: ImageTensors,
        batch_size: int,
        device: torch.device | str,
        *,
        train: bool,
        normalize: Normalize,
        seed: int = 0,
        drop_last: bool | None = None,
        channels_last: bool = False,
        augment: bool = True,
        pad: int = 4,
        flip: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be a positive multiple of "
                             f"world_size {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} must be in [0, {world_size})")
        if normalize.kind == "per-pixel" and normalize.mean_image.shape != data.images.shape[1:]:
            raise DataError(f"The mean image is {tuple(normalize.mean_image.shape)} but the "
                            f"images are {tuple(data.images.shape[1:])}: compute the mean image "
                            "of this training set (Dataset.normalize) or use 'per-channel'.")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.augment = train and augment and (pad > 0 or flip)
        self.drop_last = train if drop_last is None else drop_last
        self.channels_last, self.pad, self.flip = channels_last, pad, flip
        self.rank, self.world_size = rank, world_size
        self._norm = normalize.to(self.device)

    def __len__(self) -> int:
        n, b = len(self.labels), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (x float32 [b,3,H,W], y int64 [b]) on the device for batches start_batch.."""
        n = len(self.labels)
        order, offsets, flips = self._plan(epoch)
        for i in range(start_batch, len(self)):
            lo, hi = i * self.batch_size, min(n, (i + 1) * self.batch_size)
            lo, hi = self._shard(lo, hi)
            idx = order[lo:hi]
            x = self._norm(self.images[idx])
            if self.augment:
                x = crop_flip(x, offsets[lo:hi], flips[lo:hi], self.pad)
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            yield x.contiguous(memory_format=fmt), self.labels[idx]

    def _plan(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Order, crop offsets and flips for every position of the epoch, on the device."""
        n = len(self.labels)
        if not self.train:
            order = torch.arange(n)
            return order.to(self.device), order, order  # offsets/flips unused in eval
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        order = torch.randperm(n, generator=gen)
        offsets = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=gen)
        flips = torch.randint(0, 2, (n,), generator=gen).bool() & self.flip
        return order.to(self.device), offsets.to(self.device), flips.to(self.device)

    def _shard(self, lo: int, hi: int) -> tuple[int, int]:
        if self.world_size == 1:
            return lo, hi
        per = -(-(hi - lo) // self.world_size)  # a short last batch splits as evenly as can be
        start = min(hi, lo + self.rank * per)
        return start, min(hi, start + per)


# --------------------------------------------------------------------------- streaming


class ImageFiles(torch.utils.data.Dataset):
    """Large images decoded on demand (in DataLoader workers), for the ImageNet path.

    A zip is opened lazily once per worker process: ZipFile handles cannot cross fork.
    A file that fails to decode is replaced by the next one that does (deterministic),
    and counted in `failed` of that worker, so one bad file does not stop an epoch.
    """

    def __init__(self, source: Path, members: list[str], labels: list[int]) -> None:
        self.source, self.members, self.labels = source, members, labels
        self.is_zip = source.is_file()
        self.failed = 0
        self._zip: tuple[int, zipfile.ZipFile] | None = None

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        for k in range(len(self.members)):
            i = (index + k) % len(self.members)
            img = _decode_one(self._read(i))
            if img is not None:
                return img, self.labels[i]
            self.failed += 1
        raise DataError(f"No image in {self.source} could be decoded.")

    def _read(self, i: int) -> bytes:
        if not self.is_zip:
            return (self.source / self.members[i]).read_bytes()
        if self._zip is None or self._zip[0] != os.getpid():
            self._zip = (os.getpid(), zipfile.ZipFile(self.source))
        return self._zip[1].read(self.members[i])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_zip": None}  # workers open their own handle


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
