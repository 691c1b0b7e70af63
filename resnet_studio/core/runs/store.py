"""The store of runs: where it lives, creating, finding, listing and deleting runs."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from resnet_studio.core.atomic import (
    TMP_SUFFIX,
    atomic_write_bytes,
)
from resnet_studio.core.catalog import DAMAGED, UNKNOWN
from resnet_studio.core.errors import RunDamagedError, TrainingError
from resnet_studio.core.runs.layout import CONFIG, ENV_RUNS_DIR, STATUS, is_locked
from resnet_studio.core.runs.records import disk_errors, to_json
from resnet_studio.core.runs.run import Run
from resnet_studio.core.runs.validation import (
    CONFIG_ADVICE,
    STATUS_ADVICE,
    check_config,
    check_status,
    read_checked,
)

_NAME_TIME_RE = re.compile(r"^(\d{8}-\d{6})")  # the stamp of a default run name
_BAD_NAME_CHARS = set('/\\<>:"|?*') | {chr(c) for c in range(32)}

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


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One row of the runs table, built from config.json and status.json only."""

    name: str
    path: Path
    status: str  # one of RUN_STATUSES; DAMAGED (a file is malformed) or UNKNOWN
    # (one is missing or unreadable), the reason then says which and what to do
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
    config_json = to_json(dict(config), indent=2) + "\n"  # fail before creating anything
    if name is not None:
        _check_name(name)
    root = _root(runs_dir)
    with disk_errors(f"a run folder in {root} (set {ENV_RUNS_DIR} to use another folder)"):
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


def run_folders(root: Path) -> list[Path]:
    """The candidate run folders of ``root`` (not hidden: a run being deleted is renamed
    to a hidden name). One directory read; an unreadable or missing ``root`` raises
    OSError, for a caller that must tell a vanished mount from an empty folder."""
    with os.scandir(root) as entries:
        return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir()]


def _run_dirs(root: Path) -> Iterator[Path]:
    with contextlib.suppress(FileNotFoundError):
        yield from run_folders(root)


def list_runs(runs_dir: str | os.PathLike[str] | None = None) -> list[RunSummary]:
    """Every run, newest first, from config.json + status.json only. A folder with a
    malformed file is listed with status "damaged", one with a missing or unreadable
    file "unknown", each with the reason (the file, what is wrong, what to do)."""
    return newest_first(s for s in map(summarize_run, _run_dirs(_root(runs_dir))) if s is not None)


def newest_first(summaries: Iterable[RunSummary]) -> list[RunSummary]:
    """The listing's order: newest first (creation time, then name)."""
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(summaries, key=lambda s: (s.created or epoch, s.name), reverse=True)


def summarize_run(path: Path) -> RunSummary | None:
    """The row of one run folder (as `list_runs` lists it), or None if ``path`` is not
    a run folder at all (neither config.json nor status.json)."""
    config, status, problems, damage = {}, {}, [], False
    for filename, target, check, advice in ((CONFIG, config, check_config, CONFIG_ADVICE),
                                             (STATUS, status, check_status, STATUS_ADVICE)):
        try:
            target.update(read_checked(path / filename, advice))
            check(target, path / filename)
        except RunDamagedError as exc:
            problems.append(str(exc))
            damage = True
        except TrainingError as exc:
            problems.append(str(exc))
    if len(problems) == 2 and not any((path / f).exists() for f in (CONFIG, STATUS)):
        return None  # not a run folder at all
    state = status.get("status")
    summary = status.get("summary") if isinstance(status.get("summary"), dict) else {}
    return RunSummary(
        name=path.name,
        path=path,
        status=(DAMAGED if damage else UNKNOWN) if problems else state,
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
        stale=state == "running" and not problems and not is_locked(path),
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
    if is_locked(path):
        raise TrainingError(
            f"Run '{path.name}' is being written by another process; stop it before deleting."
        )
    trash = path.with_name(f".deleting-{path.name}")
    shutil.rmtree(trash, ignore_errors=True)  # left by an interrupted delete
    os.rename(path, trash)
    shutil.rmtree(trash)
