"""The JSON of a run folder: strict to write, tolerant to read, disk errors worded.

Everything written is strict JSON (NaN/inf become null) that jq, browsers and pandas
read; everything read says which file is broken. A killed writer can leave a torn
last line in metrics.jsonl: readers skip it and `drop_torn_tail` cuts it before the
next append.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resnet_studio.core.errors import TrainingError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(exc: OSError) -> bool:
    """Whether an OSError means no space (or no quota) is left."""
    return exc.errno in _DISK_FULL


def utc_now() -> str:
    """The time now, as the ISO 8601 UTC string status.json and the pointer hold."""
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


def to_json(obj: Any, indent: int | None = None) -> str:
    """Strict JSON of ``obj``: numpy/torch values made plain, NaN/inf as null."""
    try:  # fast path: plain finite values
        return json.dumps(obj, allow_nan=False, default=_plain, indent=indent)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False, indent=indent)


@contextlib.contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """Turn an OSError while writing ``what`` into a TrainingError a user can act on."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise TrainingError(
                f"The disk is full: could not write {what}. Free some space."
            ) from exc
        raise TrainingError(f"Could not write {what} ({exc}).") from exc


def read_json(path: Path) -> dict[str, Any]:
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


def parse_jsonl(data: bytes) -> list[dict[str, Any]]:
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


def iteration_of(record: Any) -> int | None:
    """The int "iteration" of a metrics record, or None (missing, bool, not an int)."""
    it = record.get("iteration") if isinstance(record, dict) else None
    return it if isinstance(it, int) and not isinstance(it, bool) else None


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline by a killed writer."""
    try:
        with open(path, "rb+") as f:
            end = f.seek(0, os.SEEK_END)
            pos = end
            while pos > 0:
                step = min(pos, 65536)
                f.seek(pos - step)
                chunk = f.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    pos = pos - step + nl + 1
                    break
                pos -= step
            if pos != end:
                f.truncate(pos)
    except FileNotFoundError:
        pass
