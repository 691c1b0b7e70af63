"""Datasets from ImageFolder trees in folders and zips: decoded and cached, or streamed.

Small images (<= SMALL_IMAGE_MAX) are decoded once into tensors and cached as .npy
files; larger ones stay files that `streaming.ImageFiles` decodes in loader workers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from resnet_studio.core.data.containers import (
    SMALL_IMAGE_MAX,
    Dataset,
    ImageTensors,
    Progress,
)
from resnet_studio.core.data.decode import decode_images
from resnet_studio.core.data.streaming import ImageFiles
from resnet_studio.core.data.trees import Archive, Tree, find_trees, open_archive
from resnet_studio.core.errors import DataError

_CACHE_VERSION = 1  # bump when the decoded-cache layout changes


# --------------------------------------------------------------------------- loading


def load_tree(kind: str, path: Path, image_size: int | None, cache_dir: Path,
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
    archives = [open_archive(path, kind)]
    try:
        train_tree, test_tree = find_trees(archives[0])
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


def _streaming_dataset(path: Path, train: Tree, test: Tree | None, size: int) -> Dataset:
    files = lambda t: ImageFiles(t.archive.path, t.members, t.labels)  # noqa: E731
    return Dataset(path.name, train.class_names, size, files(train), None,
                   files(test) if test else None)


def _sibling_test_path(path: Path) -> Path | None:
    if "train" not in path.name:
        return None
    sibling = path.with_name(path.name.replace("train", "test"))
    return sibling if sibling.exists() else None


def _sibling_test_tree(sibling: Path, kind: str, archives: list[Archive]) -> Tree | None:
    try:
        archives.append(open_archive(sibling, kind))
        train, test = find_trees(archives[-1])
    except DataError:
        return None  # a broken sibling must not stop the training data from loading
    return train if test is None else test


def _peek_size(tree: Tree) -> int:
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
