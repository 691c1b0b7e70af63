"""Checkpoint folders: atomic writing, safe reading, which one is the latest.

A checkpoint is a folder ``checkpoints/iter-00000400/`` (``-1``, ``-2``... when the same
iteration is saved again) holding the three files named in `layout`. `Run` decides
when to write one; this module knows how, and how to find and read them back.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from resnet_studio.core.atomic import (
    fsync_dir,
    fsync_file,
)
from resnet_studio.core.errors import TrainingError
from resnet_studio.core.runs.layout import EXTRA_FILE, TRAINER_FILE, WEIGHTS_FILE
from resnet_studio.core.runs.records import one_line, read_json
from resnet_studio.core.runs.validation import (
    CHECKPOINT_NAME as _CKPT_RE,
)
from resnet_studio.core.runs.validation import (
    check_pointer,
    check_trainer_state,
    damaged,
    read_checked,
)

# --------------------------------------------------------------------------- results


class Checkpoint(NamedTuple):
    """What load_checkpoint returns; unpacks as ``weights, extra, trainer``."""

    weights: dict[str, Any]  # name -> CPU tensor, for model.load_state_dict
    extra_state: Any  # as given to save_checkpoint (optimizer, scheduler, RNG...)
    trainer_state: dict[str, Any]  # always has "iteration"


# --------------------------------------------------------------------------- checkpoint files


def checkpoint_folders(ckdir: Path) -> list[Path]:
    """Renamed (not .tmp) checkpoint folders, newest first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(ckdir):
            m = _CKPT_RE.match(entry.name)
            if m and entry.is_dir():
                found.append(((int(m[1]), int(m[2] or 0)), Path(entry.path)))
    return [p for _, p in sorted(found, reverse=True)]


def is_complete(folder: Path) -> bool:
    """Whether all three files are there (a folder is renamed only once they are)."""
    return all((folder / f).is_file() for f in (WEIGHTS_FILE, EXTRA_FILE, TRAINER_FILE))


def latest_checkpoint(checkpoints_dir: Path, pointer: Path) -> Path | None:
    """Folder of the newest complete checkpoint, or None.

    The pointer file decides; if it is missing or unreadable, or names a folder that
    is gone or incomplete (one deleted by hand to fall back on an older one), the
    newest renamed folder is used (a folder is renamed only after its files are on
    the disk). A pointer naming anything but a folder of ``checkpoints_dir`` (such as
    "../../x") is refused with RunDamagedError: resume never reads outside the run.
    """
    complete = [f for f in checkpoint_folders(checkpoints_dir) if is_complete(f)]
    try:
        doc = read_json(pointer)
    except TrainingError:  # missing, or torn by hand: the folders decide
        doc = None
    if doc is not None:
        folder = checkpoints_dir / check_pointer(doc, pointer, complete)
        if is_complete(folder):
            return folder
    return complete[0] if complete else None


def checkpoint_at(checkpoints_dir: Path, iteration: int) -> Path:
    """The newest complete checkpoint folder of ``iteration`` (for --from-checkpoint)."""
    kept = [f for f in checkpoint_folders(checkpoints_dir) if is_complete(f)]
    for folder in kept:
        if int(_CKPT_RE.match(folder.name)[1]) == iteration:
            return folder
    have = ", ".join(str(int(_CKPT_RE.match(f.name)[1])) for f in kept) or "none"
    raise TrainingError(f"{checkpoints_dir} holds no complete checkpoint at iteration "
                        f"{iteration} (kept: {have}).")  # fmt: skip


def kept_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Complete checkpoint folders, newest first."""
    return [f for f in checkpoint_folders(checkpoints_dir) if is_complete(f)]


def prune_checkpoints(checkpoints_dir: Path, current: Path, keep: int) -> None:
    """Delete all but ``current`` and the keep-1 newest older checkpoints."""
    order = checkpoint_folders(checkpoints_dir)
    older = order[order.index(current) + 1 :] if current in order else []
    survivors = {current, *older[: max(0, keep - 1)]}
    for folder in order:
        if folder not in survivors:
            shutil.rmtree(folder, ignore_errors=True)


def new_folder_name(iteration: int, latest: Path | None) -> str:
    """``iter-00000400``; saving the same iteration again gets ``-1``, ``-2``..., so
    the folder the pointer names is never overwritten in place."""
    name = f"iter-{iteration:08d}"
    if latest is not None and _CKPT_RE.match(latest.name)[1] == name[5:]:
        suffix = int(_CKPT_RE.match(latest.name)[2] or 0) + 1
        name = f"{name}-{suffix}"
    return name


def write_checkpoint(
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


def check_weights_only(obj: Any, where: str) -> None:
    """Refuse, at save time, what weights_only=True would refuse at resume time."""
    import torch

    if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return
    if isinstance(obj, (torch.Tensor, torch.dtype, torch.device, torch.Size)):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_weights_only(key, where)
            check_weights_only(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            check_weights_only(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__name__}; checkpoints hold only "
        "tensors, numbers, strings and dicts/lists/tuples of them (use .tolist() or "
        "torch.from_numpy for numpy data)."
    )


def read_trainer_state(folder: Path, advice: str) -> dict[str, Any]:
    """A checkpoint's trainer.json, checked (validation.TRAINER_FIELDS)."""
    path = folder / TRAINER_FILE
    return check_trainer_state(read_checked(path, advice), path, advice)


def read_checkpoint(folder: Path, advice: str = "") -> Checkpoint:
    """The checkpoint in ``folder`` with its tensors on the CPU; a damaged file raises
    RunDamagedError naming it, with ``advice`` (what to do instead) appended."""
    advice = advice or f"Delete the folder {folder} to resume from an older checkpoint, if one was kept."
    trainer_state = read_trainer_state(folder, advice)  # the cheap check first
    return Checkpoint(
        weights=_load_weights(folder / WEIGHTS_FILE, advice),
        extra_state=_load_extra(folder / EXTRA_FILE, advice),
        trainer_state=trainer_state,
    )


def _load_weights(path: Path, advice: str) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise damaged(path, f"the checkpoint's weights cannot be read ({exc})", advice) from exc


def _load_extra(path: Path, advice: str) -> Any:
    import torch

    try:
        extra = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise TrainingError(
            f"Refused to load {path}: it holds Python objects other than tensors, numbers "
            "and containers, and loading them could run code. resnet-studio never writes "
            "such files; if you did not write it yourself, treat the run folder as unsafe."
        ) from exc
    except Exception as exc:
        raise damaged(path, f"the checkpoint's state cannot be read ({one_line(exc)})", advice) from exc
    return extra
