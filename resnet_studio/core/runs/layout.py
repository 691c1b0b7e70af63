"""File names, statuses, JSON and lock helpers shared by the run store."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resnet_studio.core.errors import TrainingError

STATUSES = ("running", "finished", "cancelled", "diverged", "failed")
UNKNOWN = "unknown"  # only ever shown by list_runs, for a folder it cannot read

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
POINTER = "checkpoint.json"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
WEIGHTS_FILE = "model.safetensors"
EXTRA_FILE = "state.pt"
TRAINER_FILE = "trainer.json"

ENV_RUNS_DIR = "RESNET_STUDIO_RUNS_DIR"
_CKPT_RE = re.compile(r"^iter-(\d+)(?:-(\d+))?$")
_NAME_TIME_RE = re.compile(r"^(\d{8}-\d{6})")
_BAD_NAME_CHARS = set('/\\<>:"|?*') | {chr(c) for c in range(32)}
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# --------------------------------------------------------------------------- JSON


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _plain(obj: Any) -> Any:
    """json.dumps fallback: numpy/torch scalars and arrays, paths."""
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _finite(obj: Any) -> Any:
    """Copy of ``obj`` with NaN/inf replaced by null: strict JSON that jq, browsers
    and pandas all read (a diverged loss is recorded by the status, not the number)."""
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return _finite(_plain(obj))


def _dumps(obj: Any, indent: int | None = None) -> str:
    try:  # fast path: plain finite values
        return json.dumps(obj, allow_nan=False, default=_plain, indent=indent)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False, indent=indent)


@contextlib.contextmanager
def _disk_errors(what: str) -> Iterator[None]:
    """Turn an OSError while writing ``what`` into a TrainingError a user can act on."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise TrainingError(
                f"The disk is full: could not write {what}. Free some space."
            ) from exc
        raise TrainingError(f"Could not write {what} ({exc}).") from exc


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, raising TrainingError that says which file is broken."""
    try:
        obj = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise TrainingError(f"{path} is missing.") from None
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{path} cannot be read ({exc}).") from exc
    if not isinstance(obj, dict):
        raise TrainingError(f"{path} does not hold a JSON object.")
    return obj


def _parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    """Records of a JSONL file; unreadable lines (a torn last line) are skipped.

    Fast path: one json.loads over all lines joined into an array. It is used only if
    it yields exactly one object per line, which proves each line parsed alone.
    """
    lines = [ln for ln in data.split(b"\n") if ln.strip()]
    try:
        records = json.loads(b"[" + b",".join(lines) + b"]")
        if len(records) == len(lines) and all(isinstance(r, dict) for r in records):
            return records
    except ValueError:
        pass
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _iteration_of(record: Any) -> int | None:
    it = record.get("iteration") if isinstance(record, dict) else None
    return it if isinstance(it, int) and not isinstance(it, bool) else None


# --------------------------------------------------------------------------- locks


def _try_lock(fd: int) -> bool:
    """Take an exclusive non-blocking lock on ``fd``. False if another holds it.

    The OS drops the lock when the process dies, even by kill -9, so a held lock
    means a live writer. Filesystems without locks (some NFS) count as unlocked.
    """
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
    return True


def _is_locked(run_dir: Path) -> bool:
    """Whether some process (this one included) is writing the run right now."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # closing releases a lock we just took
