"""ImageFolder trees in folders and zips: scanning, decoding and the decoded cache."""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnet_studio.core.data.containers import (
    IMAGE_EXTENSIONS,
    SMALL_IMAGE_MAX,
    Dataset,
    ImageTensors,
    Progress,
)
from resnet_studio.core.data.decode import decode_images
from resnet_studio.core.data.streaming import ImageFiles
from resnet_studio.core.errors import DataError

_CACHE_VERSION = 1  # bump when the decoded-cache layout changes

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
