"""The JSON of a run folder: strict to write, tolerant to read, disk errors worded.

Everything written is strict JSON (NaN/inf become null) that jq, browsers and pandas
read; everything read says which file is broken (`RunDamagedError`). A killed writer
can leave a torn last line in metrics.jsonl: readers skip it and `drop_torn_tail` cuts
it before the next append; an unreadable line anywhere else is damage.

A full disk reaches us in many shapes: OSError(ENOSPC), torch.save's RuntimeError
raised while handling one, safetensors' own error. `is_disk_full` reads the whole
exception chain and the libraries' wording, and `looks_full` also asks the file
system how much space is left, so every shape gets the same `DiskFullError`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resnet_studio.core.errors import DiskFullError, RunDamagedError, TrainingError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# How layers that do not raise OSError word a full disk: safetensors (Rust's io::Error,
# "No space left on device (os error 28)", kind StorageFull / QuotaExceeded).
_DISK_FULL_WORDS = (
    *(os.strerror(code) for code in sorted(_DISK_FULL)),
    *(f"os error {code}" for code in sorted(_DISK_FULL)),
    "StorageFull",
    "QuotaExceeded",
)
# torch.save's zip writer when a write came up short (a full disk, seen on a tmpfs):
# "[enforce fail at inline_container.cc:672] . unexpected pos 55808 vs 55696".
_SHORT_WRITE_WORDS = ("inline_container.cc", "unexpected pos")
# Below this much free space a failed write is taken for a full disk whatever the
# layer said: a checkpoint or a metrics line would not have fitted either.
LOW_SPACE_BYTES = 1 << 20


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says no space (or no quota) is left: an OSError(ENOSPC/EDQUOT)
    anywhere in its chain (torch.save raises its RuntimeError while handling one), or
    a library's wording of it (safetensors)."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _DISK_FULL:
            return True
        if not isinstance(link, OSError) and any(w in str(link) for w in _DISK_FULL_WORDS):
            return True
    return False


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is how some layer reports a failed write (an OSError in the
    chain, torch's short-write check, safetensors' I/O error), not a bug of ours."""
    return any(
        isinstance(link, OSError)
        or all(w in str(link) for w in _SHORT_WRITE_WORDS)
        or type(link).__name__ == "SafetensorError"
        for link in _chain(exc)
    )


def free_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Space left for us in ``folder`` (or its nearest existing parent); None if unknown."""
    path = Path(folder)
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def looks_full(exc: BaseException, folder: str | os.PathLike[str], needed: int = 0) -> bool:
    """Whether a failed write into ``folder`` failed for want of space: said so by the
    error, or, whatever the error says, the space left is too small for ``needed``."""
    if is_disk_full(exc):
        return True
    free = free_bytes(folder)
    return free is not None and free < max(needed, LOW_SPACE_BYTES)


def format_bytes(count: int | None) -> str:
    """'3.2 MB': for messages about space."""
    if count is None:
        return "an unknown amount"
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"  # pragma: no cover


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
def disk_errors(
    what: str, folder: str | os.PathLike[str] | None = None, needed: int = 0
) -> Iterator[None]:
    """Turn a failed write of ``what`` (into ``folder``) into a TrainingError a user can
    act on: DiskFullError when no space was left, whatever the layer raised it as."""
    try:
        yield
    except Exception as exc:
        if not is_write_failure(exc) and not is_disk_full(exc):
            raise
        full = is_disk_full(exc) or (folder is not None and looks_full(exc, folder, needed))
        if full:
            raise DiskFullError(
                f"The disk is full: could not write {what}. Free some space, then resume."
            ) from exc
        raise TrainingError(f"Could not write {what} ({one_line(exc)}).") from exc


def one_line(exc: BaseException | str) -> str:
    """An error's text on one line (library messages can span several)."""
    return " ".join(str(exc).split())


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object. A missing or unreadable file raises TrainingError; one that
    is not a JSON object raises RunDamagedError; both name the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TrainingError(f"{path} is missing.") from None
    except OSError as exc:
        raise TrainingError(f"{path} cannot be read ({one_line(exc)}).") from exc
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise RunDamagedError(f"{path} is damaged: it is not JSON ({one_line(exc)}).", path) from exc
    if not isinstance(obj, dict):
        raise RunDamagedError(
            f"{path} is damaged: it holds a JSON {type(obj).__name__}, not an object.", path
        )
    return obj


def parse_jsonl(data: bytes, path: Path | None = None) -> list[dict[str, Any]]:
    """Records of a JSONL file, each an object with an int "iteration". An unreadable
    last line (torn by a killed writer) is skipped; anything else unreadable is
    damage: RunDamagedError naming the line (with ``path``; else the line is skipped).

    Fast path: one json.loads over all lines joined into an array. It is used only if
    it yields exactly one valid record per line, which proves each line parsed alone.
    """
    numbered = [(n, ln) for n, ln in enumerate(data.split(b"\n"), 1) if ln.strip()]
    with contextlib.suppress(ValueError):
        records = json.loads(b"[" + b",".join(ln for _, ln in numbered) + b"]")
        if len(records) == len(numbered) and all(iteration_of(r) is not None for r in records):
            return records
    out = []
    torn_ok = not data.endswith(b"\n")  # only a line without its newline can be torn
    for index, (number, line) in enumerate(numbered):
        try:
            rec = json.loads(line)
        except ValueError as exc:
            if index == len(numbered) - 1 and torn_ok:
                continue  # the torn last line of a killed writer
            problem = f"line {number} is not JSON ({one_line(exc)})"
        else:
            if iteration_of(rec) is not None:
                out.append(rec)
                continue
            problem = f"line {number} is not a record with an integer iteration"
        if path is None:
            continue
        raise RunDamagedError(
            f"{path} is damaged: {problem}; the {len(out)} record(s) before it are intact. "
            "Delete that line (or the run) to resume it.",
            path,
        )
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
