"""Crash-safe file writes: write a temp file beside the target, fsync, rename.

A reader then sees either the old file or the new one, never half of either, even if
the process is killed or the machine loses power mid-write. ``os.replace`` is atomic
on POSIX and on Windows (same volume); the directory fsync makes the rename itself
durable on POSIX (Windows has no directory handles to fsync, so it is skipped there).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make renames and deletions inside ``path`` durable (no-op on Windows)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file that another library wrote (e.g. safetensors) to the disk."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _replace(src: str, dst: Path) -> None:
    """os.replace, retried briefly on Windows, where a reader that has ``dst`` open
    (the GUI polling status.json) makes the rename fail with PermissionError."""
    for attempt in range(20 if sys.platform == "win32" else 1):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == 19 or sys.platform != "win32":
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], suffix: str = TMP_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends, fsync it
    and rename it over ``path``. On any failure (a full disk, a cancelled download)
    the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        fsync_file(tmp)
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that it is never seen half-written."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON atomically.

    Serialises before touching the disk, so an object that is not JSON leaves the old
    file alone (and raises TypeError/ValueError).
    """
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
