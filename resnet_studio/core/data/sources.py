"""`load_dataset`: the entry point, the synthetic set, CIFAR, splits and statistics."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from resnet_studio.core.catalog import SYNTHETIC_TEST_SEED_OFFSET
from resnet_studio.core.data.archives import load_tree
from resnet_studio.core.data.containers import Dataset, ImageTensors, Progress
from resnet_studio.core.data.decode import resize_split
from resnet_studio.core.errors import DataError

SYNTHETIC_TRAIN, SYNTHETIC_TEST = 20_000, 2_000  # sizes of the embedded set

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
    train_size: int | None = None,
    test_size: int | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    download_progress: Progress | None = None,
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
    train_size, test_size: keep a fixed class-balanced subset of that many training
    (after validation is carved out) or test images, e.g. for a Figure 6 in minutes on
    a CPU. Drawn with seed 0 whatever `seed` is, so every seed sees the same images.
    cache_dir: where decoded folders/zips are cached (default `<root>/decoded`).
    progress(done, total): images decoded; download_progress(done, total): bytes of a
    CIFAR download, which may raise to cancel it (no partial file is left).
    """
    root = Path(root) if root is not None else default_root()
    kind, _, arg = spec.partition(":")
    if kind == "synthetic" and not arg:
        ds = _load_synthetic(image_size or 32, seed)
    elif kind in ("cifar10", "cifar100") and not arg:
        ds = _load_cifar(kind, root, download, download_progress)
        if image_size and image_size != ds.image_size:  # e.g. 16 px for the CPU demo
            ds.train, ds.test = (resize_split(s, image_size) for s in (ds.train, ds.test))
            ds.image_size = image_size
    elif kind in ("folder", "zip") and arg:
        ds = load_tree(kind, Path(arg).expanduser(), image_size,
                        Path(cache_dir) if cache_dir else root / "decoded", progress)
    else:
        raise DataError(f"Unknown dataset {spec!r}. Use 'synthetic', 'cifar10', 'cifar100', "
                        "'folder:PATH' (an ImageFolder tree) or 'zip:PATH' (a zip of one).")
    if val_size:
        ds.train, ds.val = split_train_val(ds.train, val_size, seed)
    if train_size:
        ds.train = _balanced_subset(ds.train, train_size, "training")
    if test_size:
        ds.test = _balanced_subset(ds.test, test_size, "test")
    if ds.in_memory:
        ds.mean, ds.std, ds.mean_image = image_statistics(ds.train.images)
    return ds


def _load_synthetic(image_size: int, seed: int) -> Dataset:
    from resnet_studio.core.synthetic import CLASS_NAMES, make_synthetic

    # Train and test from different seeds: the test images are new draws, not copies
    # (the Figure 7 view draws the same test images from the catalog's offset).
    train = ImageTensors(*make_synthetic(SYNTHETIC_TRAIN, image_size, seed))
    test = ImageTensors(*make_synthetic(SYNTHETIC_TEST, image_size,
                                        seed + SYNTHETIC_TEST_SEED_OFFSET))
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


def _balanced_subset(split: ImageTensors | torch.utils.data.Dataset, size: int, what: str
                     ) -> ImageTensors | torch.utils.data.Dataset:
    """`size` images of `split` in the class proportions of the whole (all of it when
    `size` is not smaller), the same ones on every run."""
    n = len(_labels_of(split))
    if size >= n:
        return split
    if size < 1:
        raise DataError(f"A {what} subset of {size} images is empty; pick a size between 1 and {n}.")
    _rest, subset = split_train_val(split, size, seed=0)
    return subset


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


def _load_cifar(kind: str, root: Path, download: bool, progress: Progress | None = None) -> Dataset:
    """CIFAR-10/100 through torchvision; offline, a DataError saying which file goes where.

    The archive is downloaded by core's downloader, not torchvision's (which reports to a
    terminal bar only): progress, cancel, and no partial file on any failure. The mirror
    of $RESNET_STUDIO_WEIGHTS_MIRROR applies, as for weights."""
    from torchvision import datasets

    cls = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
    archive = root / cls.filename
    extracted = (root / cls.base_folder).is_dir()
    if download and not extracted and not archive.is_file():
        _download_archive(cls.url, archive, cls.tgz_md5, progress)
    # With the archive already in root, torchvision's "download" only checks its md5 and
    # extracts it: no network, so a hand-copied archive just works.
    fetch = archive.is_file()
    try:
        train = cls(str(root), train=True, download=fetch)
        test = cls(str(root), train=False, download=fetch)
    except Exception as exc:  # noqa: BLE001 (offline: URLError, RuntimeError, OSError...)
        raise DataError(_cifar_missing_message(cls, root, download, exc)) from exc
    to_tensors = lambda d: ImageTensors(  # noqa: E731
        torch.from_numpy(d.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(d.targets))
    name = "CIFAR-10" if kind == "cifar10" else "CIFAR-100"
    return Dataset(name, list(train.classes), 32, to_tensors(train), None, to_tensors(test))


# What to do without CIFAR-10 and without a network: the demo still runs.
OFFLINE_FALLBACK = ("Offline, the built-in synthetic data (--dataset synthetic; 'Synthetic' under "
                    "Dataset in the window) runs the same comparison.")


def _download_archive(url: str, dest: Path, md5: str, progress: Progress | None) -> None:
    import hashlib

    from resnet_studio.core.errors import WeightsError
    from resnet_studio.core.weights.download import download

    try:
        download(url, dest, progress)
    except WeightsError as exc:  # its message names the URL and where to put the file
        raise DataError(f"{exc} {OFFLINE_FALLBACK}") from exc
    digest = hashlib.md5(dest.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != md5:
        dest.unlink()
        raise DataError(f"The download of {url} is damaged or is another file (md5 {digest}, "
                        f"expected {md5}). Try again, or place the right file at {dest} by hand.")


def _cifar_missing_message(cls: type, root: Path, download: bool, exc: Exception) -> str:
    what = "could not be downloaded" if download else "is not there"
    return (f"{cls.__name__} {what} ({type(exc).__name__}: {exc}). Download {cls.url} "
            f"(md5 {cls.tgz_md5}) on a machine with internet access and put it at "
            f"{root / cls.filename}; it is unpacked into {root / cls.base_folder} on the next "
            f"load. Or choose another data folder. {OFFLINE_FALLBACK}")
