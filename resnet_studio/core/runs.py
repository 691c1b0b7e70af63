"""The run store: one folder per training run, safe to kill at any moment.

Layout of a run folder (``<runs dir>/<name>/``)::

    config.json          what the trainer passed to create_run (model, dataset, recipe...)
    status.json          status, reason, created/updated times and a small summary, so a
                         listing never parses metrics files
    metrics.jsonl        append-only, one JSON object per line, each with "iteration"
    checkpoint.json      pointer naming the latest complete checkpoint folder
    checkpoints/iter-00000400/
        model.safetensors  weights (+ str->str metadata)
        state.pt           optimizer/scheduler/RNG state; read with weights_only=True
        trainer.json       iteration, epoch, data-loader position...
    .lock                advisory lock held by the one process writing this run
    tb/                  TensorBoard events (only if tensorboard is installed and used)

Checkpoints are written into ``iter-N.tmp/``, fsynced, renamed, and only then is the
pointer replaced atomically; older folders are deleted last. Whatever instant the
process dies (or the disk fills), the pointer names a complete checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import operator
import os
import pickle
import re
import shutil
import socket
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from resnet_studio.core.atomic import (
    TMP_SUFFIX,
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    fsync_file,
)
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


# --------------------------------------------------------------------------- roots


def default_runs_dir() -> Path:
    """Where runs live unless told otherwise: $RESNET_STUDIO_RUNS_DIR, else the
    platform's per-user data folder (XDG on Linux, Application Support on macOS,
    %LOCALAPPDATA% on Windows) + ``resnet-studio/runs``."""
    env = os.environ.get(ENV_RUNS_DIR)
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"
    return base / "resnet-studio" / "runs"


def _root(runs_dir: str | os.PathLike[str] | None) -> Path:
    return Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()


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


# --------------------------------------------------------------------------- results


class Checkpoint(NamedTuple):
    """What load_checkpoint returns; unpacks as ``weights, extra, trainer``."""

    weights: dict[str, Any]  # name -> CPU tensor, for model.load_state_dict
    extra_state: Any  # as given to save_checkpoint (optimizer, scheduler, RNG...)
    trainer_state: dict[str, Any]  # always has "iteration"


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One row of the runs table, built from config.json and status.json only."""

    name: str
    path: Path
    status: str  # one of STATUSES, or "unknown" when the folder cannot be read
    reason: str = ""
    model: str | None = None
    dataset: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    iterations: int | None = None
    total_iterations: int | None = None
    best_val_error: float | None = None  # fractions (0.0712), as the trainer logs them
    best_test_error: float | None = None
    final_train_error: float | None = None
    final_val_error: float | None = None
    final_test_error: float | None = None
    stale: bool = False  # "running" but no live process holds the run: it was killed
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def progress(self) -> float | None:
        """Fraction of iterations done, for a progress bar."""
        if not self.iterations or not self.total_iterations:
            return None
        return min(1.0, self.iterations / self.total_iterations)


# --------------------------------------------------------------------------- the run


class Run:
    """A run folder. Reading is free for anyone; the first write takes the run's
    lock, so two processes can never train into the same folder at once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._metrics_fh: Any = None
        self._lock_fd: int | None = None
        self._status: dict[str, Any] | None = None
        self._config: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS

    def close(self) -> None:
        """Close the metrics file and release the writer lock."""
        if self._metrics_fh is not None:
            self._metrics_fh.close()
            self._metrics_fh = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ----------------------------------------------------------------- writer lock

    def _acquire(self) -> None:
        """Become this run's only writer, then clear what a killed writer left."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise TrainingError(
                f"Run '{self.name}' is being written by another process. Stop that "
                "training (or wait for it to end) before resuming or changing this run."
            )
        self._lock_fd = fd
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Delete half-written checkpoint folders and temp files of a killed writer."""
        for tmp in self.path.glob(f".*{TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        if self.checkpoints_dir.is_dir():
            for tmp in self.checkpoints_dir.glob(f"*{TMP_SUFFIX}"):
                shutil.rmtree(tmp, ignore_errors=True)

    # ----------------------------------------------------------------- config, status

    @property
    def config(self) -> dict[str, Any]:
        """config.json as written by create_run (read once, then cached)."""
        if self._config is None:
            self._config = _read_json(self.path / CONFIG)
        return self._config

    def read_status(self) -> dict[str, Any]:
        """status.json: status, reason, created, updated, pid, host, summary."""
        return _read_json(self.path / STATUS)

    def set_status(
        self, status: str, reason: str = "", summary: Mapping[str, Any] | None = None
    ) -> None:
        """Record the run's state atomically. ``summary`` is merged into the stored one
        (iterations, total_iterations, best_val_error, final_train_error...); call it
        per epoch or per evaluation, not per iteration (it fsyncs)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        self._acquire()
        old = self._status
        if old is None:
            try:
                old = self.read_status()
            except TrainingError:
                old = {}
        doc = {
            "status": status,
            "reason": reason,
            "created": old.get("created") or _now(),
            "updated": _now(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "summary": {**(old.get("summary") or {}), **(summary or {})},
        }
        doc = json.loads(_dumps(doc))  # plain + finite, so the write cannot fail halfway
        with _disk_errors(f"the status of run '{self.name}'"):
            atomic_write_json(self.path / STATUS, doc)
        self._status = doc

    # ----------------------------------------------------------------- metrics

    def append_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one record (must hold an int "iteration") as one JSON line.

        One unbuffered O_APPEND write per record: kill -9 loses at most that line,
        torn, and readers skip a torn line. NaN/inf are written as null.
        """
        try:
            iteration = operator.index(record["iteration"])
        except (KeyError, TypeError):
            raise ValueError("a metrics record needs an int 'iteration'") from None
        line = _dumps({**record, "iteration": iteration}).encode() + b"\n"
        fh = self._metrics_fh or self._open_metrics()
        view = memoryview(line)
        with _disk_errors(f"the metrics of run '{self.name}'"):
            while view:
                view = view[fh.write(view) :]

    def _open_metrics(self) -> Any:
        self._acquire()
        _drop_torn_tail(self.metrics_path)  # so the next record starts on a new line
        self._metrics_fh = open(self.metrics_path, "ab", buffering=0)  # noqa: SIM115
        return self._metrics_fh

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records, oldest first; a torn last line is skipped."""
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return []
        return _parse_jsonl(data)

    def truncate_metrics_after(self, iteration: int) -> int:
        """Drop records with iteration > ``iteration`` (and torn lines); return how
        many went. Call after load_checkpoint with the checkpoint's iteration, so
        redone iterations are never logged twice. The rewrite is atomic."""
        self._acquire()
        if self._metrics_fh is not None:  # it would point at the replaced file
            self._metrics_fh.close()
            self._metrics_fh = None
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return 0
        kept, dropped = [], 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                it = _iteration_of(json.loads(line))
            except ValueError:
                it = None
            if it is not None and it <= iteration:
                kept.append(line + b"\n")
            else:
                dropped += 1
        if dropped or not data.endswith(b"\n"):
            atomic_write_bytes(self.metrics_path, b"".join(kept))
        return dropped

    def _sync_metrics(self) -> None:
        """Put logged metrics on the disk before a checkpoint claims to cover them."""
        if self._metrics_fh is not None:
            os.fsync(self._metrics_fh.fileno())

    # ----------------------------------------------------------------- checkpoints

    def latest_checkpoint(self) -> Path | None:
        """Folder of the newest complete checkpoint, or None.

        The pointer file decides; if it is missing or broken, the newest renamed
        folder is used (a folder is renamed only after its files are on the disk).
        """
        with contextlib.suppress(TrainingError):
            folder = self.checkpoints_dir / str(_read_json(self.path / POINTER)["folder"])
            if _CKPT_RE.match(folder.name) and _is_complete(folder):
                return folder
        complete = [f for f in _checkpoint_folders(self.checkpoints_dir) if _is_complete(f)]
        return complete[0] if complete else None

    def save_checkpoint(
        self,
        iteration: int,
        weights: Mapping[str, Any],
        metadata: Mapping[str, str] | None = None,
        extra_state: Any = None,
        trainer_state: Mapping[str, Any] | None = None,
        keep: int = 1,
    ) -> Path:
        """Save a checkpoint atomically and return its folder.

        ``weights``: a state_dict of tensors (safetensors: contiguous, unshared).
        ``metadata``: str -> str, stored in the safetensors header.
        ``extra_state``: optimizer/scheduler/RNG state made of dicts, lists, tuples,
        tensors, numbers and strings only (it is read back with weights_only=True;
        convert numpy RNG state with ``.tolist()``).
        ``trainer_state``: JSON (epoch, loader position...); "iteration" is set here.
        ``keep``: how many checkpoints to keep, the new one included.

        A failure at any point leaves the previous checkpoint as the latest one.
        """
        self._acquire()
        trainer = {**(trainer_state or {}), "iteration": int(iteration)}
        trainer_bytes = _dumps(trainer, indent=2).encode()  # fail before touching disk
        _check_weights_only(extra_state, "extra_state")
        self.checkpoints_dir.mkdir(exist_ok=True)
        self._remove_leftovers()
        final = self.checkpoints_dir / _new_folder_name(int(iteration), self.latest_checkpoint())
        tmp = final.with_name(final.name + TMP_SUFFIX)
        try:
            _write_checkpoint(tmp, weights, metadata, extra_state, trainer_bytes)
            if final.exists():  # an orphan from a crash between rename and pointer
                shutil.rmtree(final)
            os.rename(tmp, final)
            fsync_dir(self.checkpoints_dir)
            self._sync_metrics()
            pointer = {"folder": final.name, "iteration": int(iteration), "saved": _now()}
            atomic_write_json(self.path / POINTER, pointer)
        except BaseException as exc:
            self._discard(tmp, final)
            if isinstance(exc, OSError):
                raise TrainingError(self._save_failed_message(iteration, exc)) from exc
            raise
        self._prune(final, keep)
        return final

    def _discard(self, tmp: Path, final: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        if final.exists() and self.latest_checkpoint() != final:
            shutil.rmtree(final, ignore_errors=True)

    def _save_failed_message(self, iteration: int, exc: OSError) -> str:
        latest = self.latest_checkpoint()
        kept = (
            f"The previous checkpoint at {latest} is intact; resume from it."
            if latest
            else "No earlier checkpoint exists."
        )
        if exc.errno in _DISK_FULL:
            return (
                f"The disk is full: the checkpoint at iteration {iteration} could not be "
                f"written to {self.checkpoints_dir}. {kept} Free some space, then resume."
            )
        return f"The checkpoint at iteration {iteration} could not be written ({exc}). {kept}"

    def _prune(self, current: Path, keep: int) -> None:
        """Delete all but ``current`` and the keep-1 newest older checkpoints."""
        order = _checkpoint_folders(self.checkpoints_dir)
        older = order[order.index(current) + 1 :] if current in order else []
        survivors = {current, *older[: max(0, keep - 1)]}
        for folder in order:
            if folder not in survivors:
                shutil.rmtree(folder, ignore_errors=True)

    def load_checkpoint(self) -> Checkpoint | None:
        """The latest checkpoint with tensors on the CPU, or None if there is none."""
        folder = self.latest_checkpoint()
        if folder is None:
            return None
        return Checkpoint(
            weights=_load_weights(folder / WEIGHTS_FILE),
            extra_state=_load_extra(folder / EXTRA_FILE),
            trainer_state=_read_json(folder / TRAINER_FILE),
        )

    # ----------------------------------------------------------------- extras

    def tensorboard_writer(self) -> Any:
        """A SummaryWriter on ``<run>/tb`` if tensorboard is installed, else None."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(log_dir=str(self.path / "tb"))


# --------------------------------------------------------------------------- checkpoint files


def _checkpoint_folders(ckdir: Path) -> list[Path]:
    """Renamed (not .tmp) checkpoint folders, newest first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(ckdir):
            m = _CKPT_RE.match(entry.name)
            if m and entry.is_dir():
                found.append(((int(m[1]), int(m[2] or 0)), Path(entry.path)))
    return [p for _, p in sorted(found, reverse=True)]


def _is_complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in (WEIGHTS_FILE, EXTRA_FILE, TRAINER_FILE))


def _new_folder_name(iteration: int, latest: Path | None) -> str:
    """``iter-00000400``; saving the same iteration again gets ``-1``, ``-2``..., so
    the folder the pointer names is never overwritten in place."""
    name = f"iter-{iteration:08d}"
    if latest is not None and _CKPT_RE.match(latest.name)[1] == name[5:]:
        suffix = int(_CKPT_RE.match(latest.name)[2] or 0) + 1
        name = f"{name}-{suffix}"
    return name


def _write_checkpoint(
    tmp: Path,
    weights: Mapping[str, Any],
    metadata: Mapping[str, str] | None,
    extra_state: Any,
    trainer_bytes: bytes,
) -> None:
    """Write the three files into ``tmp`` and put them on the disk."""
    import torch
    from safetensors.torch import save_file

    tmp.mkdir()
    save_file(dict(weights), str(tmp / WEIGHTS_FILE), metadata=dict(metadata or {}))
    fsync_file(tmp / WEIGHTS_FILE)
    with open(tmp / EXTRA_FILE, "wb") as f:
        torch.save(extra_state, f)
        f.flush()
        os.fsync(f.fileno())
    with open(tmp / TRAINER_FILE, "wb") as f:
        f.write(trainer_bytes)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(tmp)


def _check_weights_only(obj: Any, where: str) -> None:
    """Refuse, at save time, what weights_only=True would refuse at resume time."""
    import torch

    if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return
    if isinstance(obj, (torch.Tensor, torch.dtype, torch.device, torch.Size)):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_weights_only(key, where)
            _check_weights_only(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_weights_only(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__name__}; checkpoints hold only "
        "tensors, numbers, strings and dicts/lists/tuples of them (use .tolist() or "
        "torch.from_numpy for numpy data)."
    )


def _load_weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise TrainingError(
            f"The checkpoint weights {path} are damaged ({exc}). Delete the folder "
            f"{path.parent} to resume from an older checkpoint, if one was kept."
        ) from exc


def _load_extra(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise TrainingError(
            f"Refused to load {path}: it holds Python objects other than tensors, numbers "
            "and containers, and loading them could run code. resnet-studio never writes "
            "such files; if you did not write it yourself, treat the run folder as unsafe."
        ) from exc
    except Exception as exc:
        raise TrainingError(
            f"The checkpoint state {path} is damaged ({exc}). Delete the folder "
            f"{path.parent} to resume from an older checkpoint, if one was kept."
        ) from exc


def _drop_torn_tail(path: Path) -> None:
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


# --------------------------------------------------------------------------- the store


def _check_name(name: str) -> None:
    if (
        not name
        or name.startswith(".")
        or name.endswith(TMP_SUFFIX)
        or len(name) > 200
        or _BAD_NAME_CHARS & set(name)
    ):
        raise TrainingError(
            f"'{name}' cannot be a run name: use letters, digits, '-', '_' and '.', "
            "not starting with '.' (at most 200 characters)."
        )


def _name_of(value: Any) -> str | None:
    """The name of a model/dataset entry given as "resnet20" or {"name": "resnet20"}."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return str(value) if value is not None else None


def _model_of(config: Mapping[str, Any]) -> str | None:
    for key in ("model", "model_name", "arch"):
        if config.get(key) is not None:
            return _name_of(config[key])
    return None


def _default_name(config: Mapping[str, Any]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    model = re.sub(r"[^A-Za-z0-9._-]+", "-", _model_of(config) or "run").strip("-.")
    return f"{stamp}-{model or 'run'}"


def create_run(
    config: Mapping[str, Any],
    runs_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> Run:
    """Make a new run folder holding ``config`` and status "running"; the returned Run
    holds the writer lock. Without ``name``: ``<UTC YYYYmmdd-HHMMSS>-<model>``, with
    ``-2``, ``-3``... if taken. A dataclass config is saved with dataclasses.asdict."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    config_json = _dumps(dict(config), indent=2) + "\n"  # fail before creating anything
    if name is not None:
        _check_name(name)
    root = _root(runs_dir)
    with _disk_errors(f"a run folder in {root} (set {ENV_RUNS_DIR} to use another folder)"):
        root.mkdir(parents=True, exist_ok=True)
        path = (
            _make_named_dir(root, name) if name else _make_unique_dir(root, _default_name(config))
        )
        atomic_write_bytes(path / CONFIG, config_json.encode())
    run = Run(path)
    run.set_status("running")
    return run


def _make_named_dir(root: Path, name: str) -> Path:
    try:
        (root / name).mkdir()
    except FileExistsError:
        raise TrainingError(
            f"A run named '{name}' already exists in {root}; choose another name."
        ) from None
    return root / name


def _make_unique_dir(root: Path, base: str) -> Path:
    for n in range(1, 10_000):
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise TrainingError(f"Could not find a free run name like '{base}' in {root}.")


def open_run(
    name_or_path: str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None
) -> Run:
    """Find a run by folder path, by name in the runs dir, or by a unique name prefix."""
    path = _find_run(name_or_path, _root(runs_dir))
    if not (path / CONFIG).is_file():
        raise TrainingError(f"{path} is not a run folder (it has no {CONFIG}).")
    return Run(path)


def _find_run(name_or_path: str | os.PathLike[str], root: Path) -> Path:
    text = os.fspath(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike) or os.sep in text or "/" in text or text == "."
    )
    if looks_like_path:
        return Path(text).expanduser()
    if (root / text).is_dir():
        return root / text
    if Path(text).is_dir():
        return Path(text)
    matches = sorted(p.name for p in _run_dirs(root) if p.name.startswith(text))
    if len(matches) == 1:
        return root / matches[0]
    if matches:
        raise TrainingError(f"'{text}' matches several runs: {', '.join(matches[:5])}...")
    raise TrainingError(f"No run named '{text}' in {root}. List runs to see their names.")


def _run_dirs(root: Path) -> Iterator[Path]:
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(root):
            if not entry.name.startswith(".") and entry.is_dir():
                yield Path(entry.path)


def list_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run, newest first, from config.json + status.json only. A folder with
    unreadable files is listed with status "unknown" and the reason."""
    summaries = [s for s in map(_summarize, _run_dirs(_root(runs_dir))) if s is not None]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    summaries.sort(key=lambda s: (s.created or epoch, s.name), reverse=True)
    return summaries


def _summarize(path: Path) -> RunSummary | None:
    config, status, problems = {}, {}, []
    for filename, target in ((CONFIG, config), (STATUS, status)):
        try:
            target.update(_read_json(path / filename))
        except TrainingError as exc:
            problems.append(str(exc))
    if len(problems) == 2 and not any((path / f).exists() for f in (CONFIG, STATUS)):
        return None  # not a run folder at all
    state = status.get("status")
    if not problems and state not in STATUSES:
        problems.append(f"{path / STATUS} has an unknown status {state!r}.")
    summary = status.get("summary") if isinstance(status.get("summary"), dict) else {}
    return RunSummary(
        name=path.name,
        path=path,
        status=UNKNOWN if problems else state,
        reason=" ".join(problems) if problems else str(status.get("reason") or ""),
        model=_model_of(config),
        dataset=_name_of(config.get("dataset")),
        created=_parse_time(status.get("created")) or _time_from_name(path),
        updated=_parse_time(status.get("updated")),
        iterations=_number(summary.get("iterations"), int),
        total_iterations=_number(summary.get("total_iterations"), int),
        best_val_error=_number(summary.get("best_val_error"), float),
        best_test_error=_number(summary.get("best_test_error"), float),
        final_train_error=_number(summary.get("final_train_error"), float),
        final_val_error=_number(summary.get("final_val_error"), float),
        final_test_error=_number(summary.get("final_test_error"), float),
        stale=state == "running" and not problems and not _is_locked(path),
        summary=summary,
    )


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return kind(value)
    return None


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _time_from_name(path: Path) -> datetime | None:
    m = _NAME_TIME_RE.match(path.name)
    with contextlib.suppress(ValueError):
        if m:
            return datetime.strptime(m[1], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    with contextlib.suppress(OSError):
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return None


def delete_run(
    run: Run | str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None
) -> None:
    """Delete a run folder. Refuses anything that is not a run folder (no config.json)
    or a run another process is writing. The folder is first renamed to a hidden name,
    so a half-finished delete never shows up as a broken run."""
    if isinstance(run, Run):
        run.close()
        path = run.path
    else:
        path = _find_run(run, _root(runs_dir))
    if path.is_symlink() or not (path / CONFIG).is_file():
        raise TrainingError(f"Refusing to delete {path}: it is not a run folder (no {CONFIG}).")
    if _is_locked(path):
        raise TrainingError(
            f"Run '{path.name}' is being written by another process; stop it before deleting."
        )
    trash = path.with_name(f".deleting-{path.name}")
    shutil.rmtree(trash, ignore_errors=True)  # left by an interrupted delete
    os.rename(path, trash)
    shutil.rmtree(trash)
