"""One run folder: config, status, metrics and checkpoints, with one writer at a time."""

from __future__ import annotations

import contextlib
import json
import operator
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from resnet_studio.core.atomic import (
    TMP_SUFFIX,
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
)
from resnet_studio.core.catalog import RUN_STATUSES, ModelChoice
from resnet_studio.core.errors import DiskFullError, TrainingError
from resnet_studio.core.recipes import Recipe
from resnet_studio.core.runs import validation
from resnet_studio.core.runs.checkpoints import (
    Checkpoint,
    check_weights_only,
    checkpoint_at,
    kept_checkpoints,
    latest_checkpoint,
    new_folder_name,
    prune_checkpoints,
    read_checkpoint,
    read_trainer_state,
    write_checkpoint,
)
from resnet_studio.core.runs.layout import (
    CHECKPOINTS,
    CONFIG,
    LOCK,
    METRICS,
    POINTER,
    STATUS,
    try_lock,
)
from resnet_studio.core.runs.records import (
    disk_errors,
    drop_torn_tail,
    format_bytes,
    free_bytes,
    is_disk_full,
    is_write_failure,
    iteration_of,
    looks_full,
    one_line,
    parse_jsonl,
    to_json,
    utc_now,
)

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
        if not try_lock(fd):
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
            self._config = validation.read_checked(self.path / CONFIG, validation.CONFIG_ADVICE)
        return self._config

    def read_status(self) -> dict[str, Any]:
        """status.json: status, reason, created, updated, pid, host, summary. A file
        that is not that raises RunDamagedError; a missing one TrainingError."""
        doc = validation.read_checked(self.path / STATUS, validation.STATUS_ADVICE)
        validation.check_status(doc, self.path / STATUS)
        return doc

    def training_config(self) -> tuple[ModelChoice, Recipe]:
        """The network and recipe config.json records, checked (RunDamagedError)."""
        return validation.training_config(self.config, self.path / CONFIG)

    def set_status(
        self, status: str, reason: str = "", summary: Mapping[str, Any] | None = None
    ) -> None:
        """Record the run's state atomically. ``summary`` is merged into the stored one
        (iterations, total_iterations, best_val_error, final_train_error...); call it
        per epoch or per evaluation, not per iteration (it fsyncs)."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, not {status!r}")
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
            "created": old.get("created") or utc_now(),
            "updated": utc_now(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "summary": {**(old.get("summary") or {}), **(summary or {})},
        }
        doc = json.loads(to_json(doc))  # plain + finite, so the write cannot fail halfway
        with disk_errors(f"the status of run '{self.name}'", self.path):
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
        line = to_json({**record, "iteration": iteration}).encode() + b"\n"
        fh = self._metrics_fh or self._open_metrics()
        view = memoryview(line)
        start = self.metrics_path.stat().st_size
        with disk_errors(f"the metrics of run '{self.name}'", self.path, len(line)):
            try:
                while view:
                    view = view[fh.write(view) :]
            except BaseException:
                # A line half written would be garbage in the middle once the next
                # record follows it: take it back (the file holds only whole lines).
                with contextlib.suppress(OSError):
                    os.truncate(self.metrics_path, start)
                raise

    def _open_metrics(self) -> Any:
        self._acquire()
        drop_torn_tail(self.metrics_path)  # so the next record starts on a new line
        self._metrics_fh = open(self.metrics_path, "ab", buffering=0)  # noqa: SIM115
        return self._metrics_fh

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records, oldest first; a torn last line is skipped, an unreadable line
        anywhere else raises RunDamagedError naming it."""
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return []
        return parse_jsonl(data, self.metrics_path)

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
        parse_jsonl(data, self.metrics_path)  # damage is the user's to decide on: refuse
        kept, dropped = [], 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                it = iteration_of(json.loads(line))
            except ValueError:
                it = None  # the torn last line (parse_jsonl allowed only that one)
            if it is not None and it <= iteration:
                kept.append(line + b"\n")
            else:
                dropped += 1
        if dropped or not data.endswith(b"\n"):
            with disk_errors(f"the metrics of run '{self.name}'", self.path, len(data)):
                atomic_write_bytes(self.metrics_path, b"".join(kept))
        return dropped

    def _sync_metrics(self) -> None:
        """Put logged metrics on the disk before a checkpoint claims to cover them."""
        if self._metrics_fh is not None:
            os.fsync(self._metrics_fh.fileno())

    # ----------------------------------------------------------------- checkpoints

    def latest_checkpoint(self) -> Path | None:
        """Folder of the newest complete checkpoint, or None (the pointer decides; if
        it is missing or unreadable, the newest complete folder; a pointer out of
        checkpoints/ raises RunDamagedError)."""
        return latest_checkpoint(self.checkpoints_dir, self.path / POINTER)

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
        trainer_bytes = to_json(trainer, indent=2).encode()  # fail before touching disk
        check_weights_only(extra_state, "extra_state")
        needed = _nbytes(weights) + _nbytes(extra_state) + len(trainer_bytes)
        final = tmp = None
        try:
            self.checkpoints_dir.mkdir(exist_ok=True)
            self._remove_leftovers()
            final = self.checkpoints_dir / new_folder_name(int(iteration), self.latest_checkpoint())
            tmp = final.with_name(final.name + TMP_SUFFIX)
            write_checkpoint(tmp, weights, metadata, extra_state, trainer_bytes)
            if final.exists():  # an orphan from a crash between rename and pointer
                shutil.rmtree(final)
            os.rename(tmp, final)
            fsync_dir(self.checkpoints_dir)
            self._sync_metrics()
            pointer = {"folder": final.name, "iteration": int(iteration), "saved": utc_now()}
            atomic_write_json(self.path / POINTER, pointer)
        except BaseException as exc:
            # Asked before the half-written folder goes: that is when the disk is full.
            written = isinstance(exc, Exception) and (is_write_failure(exc) or is_disk_full(exc))
            full = written and looks_full(exc, self.checkpoints_dir, needed)
            free = free_bytes(self.checkpoints_dir)
            if tmp is not None:
                self._discard(tmp, final)
            if full:
                raise DiskFullError(self._save_failed_message(iteration, exc, free, full=True)) from exc
            if written:
                raise TrainingError(self._save_failed_message(iteration, exc)) from exc
            raise
        prune_checkpoints(self.checkpoints_dir, final, keep)
        return final

    def _discard(self, tmp: Path, final: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(TrainingError):  # a damaged pointer: keep what is there
            if final.exists() and self.latest_checkpoint() != final:
                shutil.rmtree(final, ignore_errors=True)

    def _save_failed_message(
        self, iteration: int, exc: BaseException, free: int | None = None, full: bool = False
    ) -> str:
        try:
            latest = self.latest_checkpoint()
        except TrainingError:
            latest = None
        kept = (
            f"The previous checkpoint at {latest} is intact; resume from it."
            if latest
            else "No earlier checkpoint exists."
        )
        if full:
            return (
                f"The disk is full: the checkpoint at iteration {iteration} could not be "
                f"written to {self.checkpoints_dir} ({format_bytes(free)} free). {kept} "
                "Free some space, then resume."
            )
        return (f"The checkpoint at iteration {iteration} could not be written "
                f"({one_line(exc)}). {kept}")  # fmt: skip

    def checkpoint_at(self, iteration: int) -> Path:
        """The complete checkpoint folder of ``iteration`` (TrainingError if none)."""
        return checkpoint_at(self.checkpoints_dir, iteration)

    def load_checkpoint(self, iteration: int | None = None) -> Checkpoint | None:
        """The latest checkpoint (or that of ``iteration``) with tensors on the CPU, or
        None if there is none. A damaged file raises RunDamagedError naming it."""
        folder = self.latest_checkpoint() if iteration is None else self.checkpoint_at(iteration)
        if folder is None:
            return None
        return read_checkpoint(folder, self.checkpoint_advice(folder))

    def checkpoint_advice(self, folder: Path) -> str:
        """What to do when the checkpoint in ``folder`` is damaged."""
        return validation.checkpoint_advice(self.name, folder, kept_checkpoints(self.checkpoints_dir))

    def check_resumable(self, iteration: int | None = None) -> Path:
        """Check, without torch and without writing anything, every file a resume
        reads but the tensors: config.json, status.json (if there), metrics.jsonl, the
        pointer and the trainer state of the checkpoint to resume from (the latest, or
        that of ``iteration``), whose folder it returns. RunDamagedError names the
        first damaged file; TrainingError says when there is no checkpoint."""
        self.training_config()
        if (self.path / STATUS).exists():  # a missing one is written again on resume
            self.read_status()
        self.read_metrics()
        folder = self.latest_checkpoint() if iteration is None else self.checkpoint_at(iteration)
        if folder is None:
            raise TrainingError(f"Run {self.name} has no checkpoint yet; start it again instead.")
        read_trainer_state(folder, self.checkpoint_advice(folder))
        return folder

    # ----------------------------------------------------------------- extras

    def tensorboard_writer(self) -> Any:
        """A SummaryWriter on ``<run>/tb`` if tensorboard is installed, else None."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(log_dir=str(self.path / "tb"))


def _nbytes(obj: Any) -> int:
    """Bytes of the tensors in ``obj`` (nested dicts, lists, tuples): what a
    checkpoint of it needs on the disk, give or take its headers."""
    if isinstance(obj, Mapping):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    size = getattr(obj, "nbytes", None)
    return size if isinstance(size, int) else 0
