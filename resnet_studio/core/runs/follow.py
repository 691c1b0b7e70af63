"""Following runs that another process writes: by polling, at a bounded cost.

A run trained in a terminal, or by ``torchrun`` on a cluster into a shared folder,
grows its ``metrics.jsonl`` by one line per log window and replaces its
``status.json`` at checkpoints and at its end. The window follows that by polling,
not by a file watcher: inotify and FSEvents see nothing that another machine writes
to NFS or SMB, while ``stat`` works on every filesystem.

What one poll costs (`StoreFollower.poll`): one read of the runs folder (new and
deleted runs), then for at most ``max_runs`` runs a ``stat`` of ``status.json`` (a
run is summarised again only when it changed) and, for the runs being followed, a
``stat`` of ``metrics.jsonl`` and a read of the bytes appended since the last poll
(`JsonlTail`: an offset per file, at most ``max_bytes`` per read). Followed and
running runs come first; the others take the rest of the budget in turn, so a
finished run resumed elsewhere is noticed too, a few polls later.

Nothing here is parsed twice or anew: lines go through `records.parse_jsonl` and
runs through `store.summarize_run`, the readers of the listing and of ``--resume``.
Everything is plain Python with no Qt: the window runs `StoreFollower.poll` in a
worker thread, so a slow or vanished mount never freezes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_studio.core.errors import RunDamagedError
from resnet_studio.core.runs.layout import METRICS, STATUS, is_locked
from resnet_studio.core.runs.records import one_line, parse_jsonl
from resnet_studio.core.runs.store import RunSummary, newest_first, run_folders, summarize_run

MAX_RUNS_PER_POLL = 16  # runs whose files one poll looks at
MAX_BYTES_PER_READ = 4 << 20  # ~20k metrics lines: a long run is caught up in a few polls
TAIL_WINDOW_BYTES = 64 << 10  # what a run only watched for its progress reads first
NEW_RUN_GRACE_S = 5.0  # a new folder without status.json is listed after this long


def _read_at(path: Path, start: int, size: int) -> bytes:
    """``size`` bytes of ``path`` from ``start`` (fewer if it is shorter now)."""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(size)


def _device_of(folder: Path) -> int:
    """The filesystem ``folder`` is on (it changes when a mount point is unmounted)."""
    return os.stat(folder).st_dev


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


@dataclass(frozen=True)
class TailRead:
    """What one `JsonlTail.read` found: the new complete records, oldest first. With
    ``reset`` the file was replaced or cut (a resume rewrites it): ``records`` start
    again from its beginning and whatever was read before is void."""

    records: list[dict[str, Any]] = field(default_factory=list)
    reset: bool = False


class JsonlTail:
    """Follows one append-only JSONL file by offset, reading only what was appended.

    ``offset`` is where the first incomplete line starts: everything before it has
    been parsed. A last line without its newline (the writer is between two writes,
    or was killed) is never parsed: ``pending`` counts its bytes, and they are read
    again once the file has grown. Re-reading those few bytes rather than keeping them
    in memory is deliberate: a writer that cuts its torn tail and appends anew
    (`records.drop_torn_tail`) could otherwise splice an old half-line onto a new one.

    ``from_end``: start near the end of the file (the last ``TAIL_WINDOW_BYTES``), for
    a run watched only for its latest progress, not drawn.
    """

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES_PER_READ, from_end: bool = False):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.from_end = from_end
        self.offset = 0
        self.pending = 0
        self.reads = 0  # reads of the file's bytes, not counting stats (the cost)
        self._identity: tuple[int, int] | None = None
        self._damaged: tuple[tuple[int, int], int] | None = None  # the file as it was then

    def read(self) -> TailRead:
        """The records appended since the last read (a stat, and a read only if the file
        grew). A damaged line raises RunDamagedError with its true line number, and
        the same damaged file is not read again until it changes."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            was_read = self._identity is not None
            self._forget()
            return TailRead(reset=was_read)  # a run whose file went: nothing left of it
        identity, size = _identity(st), st.st_size
        reset = self._identity is not None and (identity != self._identity or size < self.offset)
        if reset:
            self._forget()
        skip_first_line = False
        if self._identity is None and self.from_end and size > TAIL_WINDOW_BYTES:
            self.offset, skip_first_line = size - TAIL_WINDOW_BYTES, True
        self._identity = identity
        if self._damaged == (identity, size):
            return TailRead()
        if size <= self.offset + self.pending:
            self.pending = max(0, size - self.offset)  # unchanged, or a torn tail was cut
            return TailRead(reset=reset)
        data = _read_at(self.path, self.offset, min(size - self.offset, self.max_bytes))
        self.reads += 1
        if skip_first_line:  # it may start mid-line: begin at the next whole one
            cut = data.find(b"\n") + 1
            self.offset, data = self.offset + cut, data[cut:]
        end = data.rfind(b"\n") + 1
        try:
            records = parse_jsonl(data[:end], self.path) if end else []
        except RunDamagedError:
            self._damaged = (identity, size)
            raise self._whole_file_error() from None
        self._damaged = None
        self.offset += end
        self.pending = len(data) - end
        return TailRead(records, reset)

    def _whole_file_error(self) -> RunDamagedError:
        """The reader's own message for the whole file: the line number counts from its
        first line, not from the offset of this read."""
        try:
            parse_jsonl(self.path.read_bytes(), self.path)
        except RunDamagedError as exc:
            return exc
        except OSError as exc:
            return RunDamagedError(f"{self.path} cannot be read ({one_line(exc)}).", self.path)
        return RunDamagedError(f"{self.path} changed while it was read.", self.path)

    def _forget(self) -> None:
        self.offset = self.pending = 0
        self._identity = self._damaged = None


def _status_signature(run_dir: Path) -> tuple[int, int, int, int] | None:
    """What changes when status.json is replaced (it is written atomically: a new file,
    so a new inode, and usually a new mtime and size). None when it is missing."""
    try:
        st = os.stat(run_dir / STATUS)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size, st.st_dev


def _just_made(run_dir: Path) -> bool:
    """Whether the folder was made a moment ago (it may not hold all its files yet)."""
    try:
        return time.time() - os.stat(run_dir).st_mtime < NEW_RUN_GRACE_S
    except OSError:
        return False


@dataclass(frozen=True)
class RunUpdate:
    """A followed run's new metrics records (``reset``: its file was rewritten, the
    records start from its first line), or ``problem``: its metrics file is damaged
    (the reader's message). ``first`` marks the first read of its file."""

    name: str
    records: tuple[dict[str, Any], ...] = ()
    reset: bool = False
    first: bool = False
    problem: str = ""


@dataclass(frozen=True)
class StorePoll:
    """One look at the runs folder. ``error``: it could not be read (a vanished or
    broken mount: the message says which folder and why). ``listing``: every run,
    newest first, when a row was added, removed or changed since the last poll, else
    None. ``removed``: runs gone since the last poll. ``updates``: the followed runs'
    new records. ``looked_at``: the runs whose files this poll read or stat'ed."""

    folder: Path
    error: str = ""
    listing: tuple[RunSummary, ...] | None = None
    removed: tuple[str, ...] = ()
    updates: tuple[RunUpdate, ...] = ()
    looked_at: tuple[str, ...] = ()


class StoreFollower:
    """Follows a runs folder from poll to poll. Not thread-safe: one poll at a time,
    all in the same thread or one after the other (the window's worker)."""

    def __init__(self, runs_dir: str | os.PathLike[str], max_runs: int = MAX_RUNS_PER_POLL,
                 max_bytes: int = MAX_BYTES_PER_READ) -> None:  # fmt: skip
        self.folder = Path(runs_dir).expanduser()
        self.max_runs = max(1, max_runs)
        self.max_bytes = max_bytes
        self._summaries: dict[str, RunSummary] = {}
        self._signatures: dict[str, tuple[int, int, int, int] | None] = {}
        self._tails: dict[str, JsonlTail] = {}
        self._turns: dict[str, int] = {}  # round-robin positions, per group of runs
        self._seen_folder = False
        self._device: int | None = None  # the filesystem the runs were seen on

    def poll(self, follow: Collection[str] = (), skip: Collection[str] = (),
             full: bool = False, expected: bool = False) -> StorePoll:  # fmt: skip
        """Look at the folder once. ``follow``: runs whose curves are drawn (their
        metrics are read in full, from the start). Running runs are followed too,
        from near the end of their file, for their progress. ``skip``: runs whose
        metrics come another way (the window's own training): not read. ``full``:
        give the listing even if nothing changed. A missing folder is an error once
        it has been seen, or if ``expected`` (the caller saw runs in it); else it is
        only not made yet."""
        try:
            device = _device_of(self.folder)
            folders = {p.name: p for p in run_folders(self.folder)}
        except FileNotFoundError:
            if not (self._seen_folder or expected):  # not made yet (no run so far)
                return StorePoll(self.folder, listing=() if full else None)
            return StorePoll(self.folder, error=f"The runs folder {self.folder} is gone "
                             "(a disconnected drive or network mount?).")  # fmt: skip
        except OSError as exc:
            return StorePoll(self.folder, error=f"The runs folder {self.folder} cannot be "
                             f"read ({one_line(exc)}).")  # fmt: skip
        if device != self._device and self._device is not None and self._summaries and not folders:
            # An unmounted mount point is an empty folder of the parent filesystem: not
            # every run deleted at once. (A remount with runs in it is simply accepted.)
            return StorePoll(self.folder, error=f"The runs folder {self.folder} is empty and "
                             "on another filesystem than before: its drive or network mount "
                             "seems to be gone.")  # fmt: skip
        self._seen_folder, self._device = True, device
        removed = tuple(sorted(n for n in self._summaries if n not in folders))
        for name in removed:
            self._drop(name)
        changed = bool(removed)
        looked_at, updates = [], []
        for name in self._choose(folders, set(follow)):
            looked_at.append(name)
            changed |= self._check_status(name, folders[name])
            summary = self._summaries.get(name)
            wanted = name in follow or (summary is not None and summary.status == "running")
            if wanted and name not in skip and summary is not None:
                update = self._read_metrics(name, folders[name], from_end=name not in follow)
                if update is not None:
                    updates.append(update)
            else:
                self._tails.pop(name, None)
        listing = tuple(newest_first(self._summaries.values())) if changed or full else None
        return StorePoll(self.folder, listing=listing, removed=removed, updates=tuple(updates),
                         looked_at=tuple(looked_at))  # fmt: skip

    def _choose(self, folders: dict[str, Path], follow: set[str]) -> list[str]:
        """The runs this poll looks at: every new one (that is a listing, once), then
        ``max_runs`` known ones: followed and running ones first, the others with what
        is left; each group in turn from poll to poll, so none waits for ever."""
        names = sorted(folders)
        new = [n for n in names if n not in self._summaries]
        known = [n for n in names if n in self._summaries]
        first = [n for n in known if n in follow or self._summaries[n].status == "running"]
        chosen = self._in_turn(first, self.max_runs, "first")
        rest = [n for n in known if n not in set(first)]
        return new + chosen + self._in_turn(rest, self.max_runs - len(chosen), "rest")

    def _in_turn(self, names: list[str], count: int, group: str) -> list[str]:
        if count <= 0 or not names:
            return []
        start = self._turns.get(group, 0) % len(names)
        self._turns[group] = start + count
        return (names[start:] + names[:start])[:count]

    def _check_status(self, name: str, path: Path) -> bool:
        """Summarise the run again if its status.json changed (or it is new), and see
        whether a running run's writer still holds it; whether its row changed."""
        signature = _status_signature(path)
        old = self._summaries.get(name)
        if old is not None and signature == self._signatures.get(name):
            if old.status != "running":
                return False
            stale = not is_locked(path)  # its writer died (kill -9, a crashed node)
            if stale == old.stale:
                return False
            self._summaries[name] = replace(old, stale=stale)
            return True
        if old is None and signature is None and _just_made(path):
            return False  # create_run writes config.json, then status.json: wait for it
        summary = summarize_run(path)
        self._signatures[name] = signature
        if summary is None:  # a folder that is not (yet) a run: looked at again later
            self._signatures.pop(name)
            return self._summaries.pop(name, None) is not None
        self._summaries[name] = summary
        return old != summary

    def _read_metrics(self, name: str, path: Path, from_end: bool) -> RunUpdate | None:
        tail = self._tails.get(name)
        if tail is None or (tail.from_end and not from_end):  # now drawn: from the start
            tail = self._tails[name] = JsonlTail(path / METRICS, self.max_bytes, from_end)
        first = tail.reads == 0
        try:
            read = tail.read()
        except RunDamagedError as exc:
            return RunUpdate(name, problem=str(exc))
        except OSError as exc:
            return RunUpdate(name, problem=f"{path / METRICS} cannot be read ({one_line(exc)}).")
        if not read.records and not read.reset:
            return None
        return RunUpdate(name, tuple(read.records), read.reset, first)

    def _drop(self, name: str) -> None:
        self._summaries.pop(name, None)
        self._signatures.pop(name, None)
        self._tails.pop(name, None)
