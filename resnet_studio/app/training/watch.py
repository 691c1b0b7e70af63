"""Watching runs that another process writes, for the Training panel, without Qt.

``resnet-studio train`` in a terminal, or ``torchrun`` on a cluster writing into a
shared runs folder, writes the very files the window reads. `RunWatch` decides what
each poll of the store (`core.runs.follow.StoreFollower`) looks at and turns its
answer into what the panel draws:

- the runs to follow: the runs drawn (ticked), minus those of the panel's own job
  while it trains (their points come from its events: never drawn twice);
- new points for the drawn runs, appended to their `RunSeries` in the session (a
  record already there, by iteration, is not added again, so a run ticked between
  two polls gets each point once);
- a `LiveRun` row (iteration, images/s, ETA, test error) for each run another process
  is training, from its newest metrics lines;
- a message when the folder cannot be read (a vanished mount), and a back-off: the
  poll interval doubles on each failure, up to `MAX_INTERVAL_S`, and returns to
  `INTERVAL_S` once the folder answers again.

The panel runs `poll` in a worker thread, one poll at a time, and calls `apply` in
the GUI thread with its result.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.app.training.session import LiveRun, TrainingSession
from resnet_studio.core.runs.follow import RunUpdate, StoreFollower, StorePoll
from resnet_studio.core.runs.records import iteration_of
from resnet_studio.core.runs.store import RunSummary

INTERVAL_S = 1.0  # a new point shows within about a second; a stat per run per second
MAX_INTERVAL_S = 30.0  # a vanished mount is asked again at least this often
SLOW_S = 5.0  # a poll still unanswered after this long is said to be waiting
GROWTH_WINDOW_S = 120.0  # a "stale" run that grew this recently is still training


@dataclass(frozen=True)
class PollRequest:
    """What one poll is to look at (made in the GUI thread, read in the worker)."""

    follower: StoreFollower
    follow: frozenset[str]
    skip: frozenset[str]
    full: bool
    expected: bool  # runs were seen in the folder: its absence is an error
    generation: int


@dataclass
class WatchOutcome:
    """What the panel is to draw after a poll. ``listing``: reload the table with it
    (None: the rows did not change). ``removed``: runs deleted from the store, to
    forget and un-draw. ``live``: rows of runs another process trains. ``problem``:
    the folder's message (None: unchanged, "": it answers again). ``notes``: one-off
    messages for the status line (a followed run's metrics became damaged)."""

    listing: list[RunSummary] | None = None
    removed: list[str] = field(default_factory=list)
    live: dict[str, LiveRun] = field(default_factory=dict)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    points: int = 0  # new points added to drawn runs


class RunWatch:
    """The polling of one runs folder, and the rows of runs trained elsewhere."""

    def __init__(self, runs_dir: str | Path, interval_s: float = INTERVAL_S,
                 max_interval_s: float = MAX_INTERVAL_S) -> None:  # fmt: skip
        self.interval_s = interval_s
        self.max_interval_s = max_interval_s
        self.external: dict[str, LiveRun] = {}  # runs trained by another process
        self.failures = 0  # consecutive polls that could not read the folder
        self.problem = ""
        self._generation = 0
        self._want_listing = True
        self._expected = False
        self._summaries: dict[str, RunSummary] = {}
        self._rates: dict[str, tuple[int, float]] = {}  # name -> (iteration, wall_time)
        self._grew_at: dict[str, float] = {}
        self._reported: set[str] = set()
        self.follower = StoreFollower(runs_dir)

    @property
    def folder(self) -> Path:
        return self.follower.folder

    def set_folder(self, runs_dir: str | Path) -> None:
        """Watch another folder; a poll of the previous one still running is ignored."""
        self.__init__(runs_dir, self.interval_s, self.max_interval_s)

    def want_listing(self) -> None:
        """The panel wants its rows anew (a job ended, a run was deleted, Refresh): the
        next poll gives the full listing, and a poll already under way, begun before
        what the panel saw, is not drawn."""
        self._generation += 1
        self._want_listing = True

    def listing_wanted(self) -> bool:
        """Whether the next poll is to give the full listing."""
        return self._want_listing

    def delay_s(self) -> float:
        """Seconds until the next poll: the interval, doubled per failure, capped."""
        return min(self.max_interval_s, self.interval_s * 2 ** min(self.failures, 16))

    def request(self, shown: Iterable[str], own: Iterable[str]) -> PollRequest:
        """The next poll: follow the drawn runs, skip those of the panel's own job."""
        own = frozenset(own)
        full, self._want_listing = self._want_listing, False
        return PollRequest(self.follower, frozenset(shown) - own, own, full, self._expected,
                           self._generation)  # fmt: skip

    @staticmethod
    def poll(request: PollRequest) -> StorePoll:
        """The filesystem part (in a worker thread: it may block on a slow mount)."""
        return request.follower.poll(request.follow, request.skip, full=request.full,
                                     expected=request.expected)  # fmt: skip

    def apply(self, request: PollRequest, poll: StorePoll, session: TrainingSession,
              now: float | None = None) -> WatchOutcome:  # fmt: skip
        """Bring the session and the external rows up to date with a poll (GUI thread)."""
        out = WatchOutcome()
        if request.follower is not self.follower:
            return out  # a poll of a folder no longer watched
        if poll.error:
            self.failures += 1
            self.problem = f"{poll.error} Trying again in {self.delay_s():.0f} s."
            out.problem = self.problem
            return out
        if self.failures or self.problem:
            self.failures, self.problem, out.problem = 0, "", ""
        now = time.monotonic() if now is None else now
        for name in poll.removed:
            self._forget(name)
            out.removed.append(name)
        if poll.listing is not None:
            self._summaries = {s.name: s for s in poll.listing}
            self._expected = self._expected or bool(poll.listing)  # from now on it must be there
            if request.generation == self._generation:
                out.listing = list(poll.listing)
            else:
                self._want_listing = True
        for update in poll.updates:
            out.points += self._apply_update(update, request, session, out, now)
        for name in list(self.external):
            if not self._training_elsewhere(name, request.skip, now):
                del self.external[name]
        out.live = dict(self.external) if out.listing is not None else out.live
        return out

    def _apply_update(self, update: RunUpdate, request: PollRequest, session: TrainingSession,
                      out: WatchOutcome, now: float) -> int:  # fmt: skip
        name = update.name
        if update.problem:
            if name in request.follow and name not in self._reported:
                self._reported.add(name)
                out.notes.append(update.problem)
            return 0
        self._reported.discard(name)
        if update.records and not update.first:
            self._grew_at[name] = now
        added = 0
        series = session.series.get(name)
        if series is not None and name in request.follow:  # drawn, and not the panel's own job
            if update.reset:
                series.truncate_after(-1)  # the file was rewritten (a resume): read anew
            last = iteration_of(series.records[-1]) if series.records else None
            new = [r for r in update.records if last is None or (iteration_of(r) or 0) > last]
            series.extend(new)
            added = len(new)
        if self._training_elsewhere(name, request.skip, now):
            live = self._live_row(name, update.records)
            self.external[name] = live
            out.live[name] = live
        return added

    def _training_elsewhere(self, name: str, own: frozenset[str], now: float) -> bool:
        """Whether another process is training the run: "running" in its status.json,
        and its writer holds its lock or its metrics grew lately (a lock is not seen
        across machines on some network filesystems)."""
        summary = self._summaries.get(name)
        if summary is None or summary.status != "running" or name in own:
            return False
        grew = self._grew_at.get(name)
        return not summary.stale or (grew is not None and now - grew < GROWTH_WINDOW_S)

    def _live_row(self, name: str, records: Iterable[dict[str, Any]]) -> LiveRun:
        summary = self._summaries[name]
        live = self.external.get(name) or LiveRun(iteration=summary.iterations or 0)
        live.total = summary.total_iterations or live.total
        live.shown = False
        for record in records:
            if "val_error" in record or "test_error" in record:
                error = record.get("test_error")
                live.test_error = error if error is not None else record.get("val_error")
        for window in (r for r in records if "loss" in r or "train_error" in r):
            live.iteration = iteration_of(window) or live.iteration
            live.images_per_s = window.get("images_per_s") or live.images_per_s
            live.eta_s = self._eta(name, window, live.total)
        return live

    def _eta(self, name: str, record: dict[str, Any], total: int) -> float | None:
        """Seconds left, from the training time per iteration between two records."""
        iteration, wall = iteration_of(record), record.get("wall_time")
        if iteration is None or not isinstance(wall, (int, float)):
            return None
        before = self._rates.get(name)
        self._rates[name] = (iteration, float(wall))
        if before is None or iteration <= before[0] or not total:
            return None
        per_iteration = (float(wall) - before[1]) / (iteration - before[0])
        return max(0.0, (total - iteration) * per_iteration)

    def _forget(self, name: str) -> None:
        for table in (self.external, self._summaries, self._rates, self._grew_at):
            table.pop(name, None)
        self._reported.discard(name)
