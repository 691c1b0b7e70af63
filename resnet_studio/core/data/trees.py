"""ImageFolder trees in folders and zips, before decoding: opening, scanning, reading.

An `Archive` reads the files of a folder or a zip; a `Tree` is the ImageFolder layout
found in one (class names, member paths, labels). `decode` turns a tree into tensors,
`archives` decides whether to decode, cache or stream it.
"""

from __future__ import annotations

import mmap
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from resnet_studio.core.data.containers import IMAGE_EXTENSIONS
from resnet_studio.core.errors import DataError


class Archive:
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


def open_archive(path: Path, kind: str) -> Archive:
    if kind == "zip":
        if not path.is_file():
            raise DataError(f"Zip file {path} does not exist. Pick an existing .zip file.")
        try:
            return Archive(path, True)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable zip file ({exc}). Give a .zip holding "
                            "an ImageFolder tree (one folder per class), or use "
                            "'folder:PATH'.") from exc
    if not path.exists():
        raise DataError(f"Dataset folder {path} does not exist. Pick an existing folder.")
    if not path.is_dir():
        raise DataError(f"{path} is a file, not a folder. For a zip use 'zip:{path}'.")
    return Archive(path, False)


@dataclass
class Tree:
    """An ImageFolder tree, before decoding: where each image is and its class."""

    archive: Archive
    class_names: list[str]
    members: list[str]  # paths relative to the folder, or zip member names
    labels: list[int]


def _is_image_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def find_trees(archive: Archive) -> tuple[Tree, Tree | None]:
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


def _tree_at(archive: Archive, files: list[str], dirs: list[str], prefix: str) -> Tree:
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
    return Tree(archive, classes, members, labels)
