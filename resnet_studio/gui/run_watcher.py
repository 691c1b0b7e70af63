"""Polling the run store off the GUI thread, for runs that other processes write.

`app.training.watch.RunWatch` decides what a poll looks at and what its answer means;
this only schedules it, and the table's own listings too (`request_listing`: after a
job, a delete, Refresh), so that no call on the GUI thread touches the folder. About
once a second (`RunWatch.delay_s`: longer after a
failure) a `Worker` thread runs `RunWatch.poll`, which does every filesystem call;
its `StorePoll` comes back to the GUI thread, where `RunWatch.apply` turns it into a
`WatchOutcome` that `outcome_ready` hands to the panel to draw. One poll at a time:
a mount that takes ten seconds to answer delays the next poll, never the window,
and after `SLOW_S` the panel is told that the folder is not answering (`waiting`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from resnet_studio.app.training import watch as watch_module
from resnet_studio.app.training.session import TrainingSession
from resnet_studio.app.training.watch import PollRequest, RunWatch, WatchOutcome
from resnet_studio.core.runs.follow import StorePoll
from resnet_studio.core.runs.records import one_line
from resnet_studio.gui.workers import Worker

TICK_MS = 200  # how often the GUI thread checks whether a poll is due (a clock read)
STOP_WAIT_S = 5.0  # closing waits this long for a poll stuck on a dead mount


class RunStoreWatcher(QObject):
    """Polls `session.runs_dir` while `visible()` (a hidden tab or a closed window costs
    nothing; shown again, it polls at once). Signals: `outcome_ready(WatchOutcome)`
    after each poll, `waiting(text)` when one has not answered for `watch.SLOW_S` s."""

    outcome_ready = Signal(object)
    waiting = Signal(str)

    def __init__(self, session: TrainingSession, shown: Callable[[], Iterable[str]],
                 own: Callable[[], Iterable[str]], visible: Callable[[], bool],
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session = session
        self.watch = RunWatch(session.runs_dir)
        self._shown, self._own, self._visible = shown, own, visible
        self._worker: Worker | None = None
        self._request: PollRequest | None = None
        self._started_at = 0.0
        self._due = 0.0  # the first poll at the first tick
        self._said_waiting = False
        self._forced = False  # a listing was asked for: poll even while hidden
        self._timer = QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._on_tick_timer_timeout)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        """Stop polling and join a poll in flight (for at most `STOP_WAIT_S`: a poll
        stuck on a dead mount stays registered, `workers.stop_all` waits for it)."""
        self._timer.stop()
        worker, self._worker, self._request = self._worker, None, None
        if worker is not None:
            worker.join(STOP_WAIT_S)

    def is_polling(self) -> bool:
        return self._worker is not None

    def poll_soon(self) -> None:
        """Poll at the next tick (the Refresh button), not after the interval."""
        self._due = 0.0

    def set_folder(self, folder: str | Path) -> None:
        self.watch.set_folder(folder)
        self._due = 0.0

    def request_listing(self) -> None:
        """A full listing at the next tick, even while hidden: the table's rows are read
        in the worker like every poll, so a dead mount never blocks the caller."""
        self.watch.want_listing()
        self._due, self._forced = 0.0, True

    def listing_due(self) -> bool:
        """A listing was asked for and has not been handed on yet."""
        in_flight = self._request is not None and self._request.full
        return self._forced or self.watch.listing_wanted() or in_flight

    @Slot()
    def _on_tick_timer_timeout(self) -> None:
        now = time.monotonic()
        if self._worker is not None:
            slow = now - self._started_at
            if slow >= watch_module.SLOW_S and not self._said_waiting:
                self._said_waiting = True
                self.waiting.emit(f"Waiting for the runs folder {self.watch.folder}: no answer "
                                  f"for {slow:.0f} s (a slow or disconnected mount?)…")  # fmt: skip
            return
        if now < self._due or not (self._visible() or self._forced):
            return
        self._forced = False
        self._request = self.watch.request(self._shown(), self._own())
        self._started_at = now
        worker = self._worker = Worker(RunWatch.poll, self._request)
        worker.finished.connect(self._on_poll_finished)
        worker.failed.connect(self._on_poll_failed)
        worker.start()

    @Slot(object)
    def _on_poll_finished(self, poll: StorePoll) -> None:
        self._done(poll)

    @Slot(object)
    def _on_poll_failed(self, exc: BaseException) -> None:
        # Not an OSError the follower words itself: still a message, never a dialog.
        request = self._request
        folder = request.follower.folder if request is not None else self.watch.folder
        self._done(StorePoll(folder, error=f"The runs folder {folder} could not be read "
                             f"({type(exc).__name__}: {one_line(exc)})."))  # fmt: skip

    def _done(self, poll: StorePoll) -> None:
        request, self._request, self._worker = self._request, None, None
        if request is None:  # stopped meanwhile
            return
        outcome: WatchOutcome = self.watch.apply(request, poll, self.session)
        if self._said_waiting and outcome.problem is None and not self.watch.problem:
            outcome.problem = ""  # it answered after all: take the waiting line back
        self._said_waiting = False
        self._due = time.monotonic() + self.watch.delay_s()
        self.outcome_ready.emit(outcome)
