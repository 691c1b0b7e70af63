"""The queue that runs the Inspection panel's jobs off the GUI thread, one at a time.

The jobs are plain functions of the application layer (`app.inspection.jobs`). Each
gets a `job` (`workers.JobControl`) and calls `job.check()` between steps, so a
superseded request stops at the next step instead of finishing work no one will
look at.

Why one job at a time: `forward_intermediates` registers forward hooks on
the model's modules, so two forwards of one model in two threads would record each
other's tensors; and on a 2-core CPU two concurrent forwards are no faster than two
in a row. A newer request of a kind replaces the pending one of that kind and cancels
the running one, and every result carries the generation it was asked for, so a stale
result is dropped even if it finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from resnet_studio.gui.workers import Worker


@dataclass
class _Request:
    kind: str
    generation: int
    fn: Callable[..., Any]
    args: tuple
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException, str], None] | None
    on_progress: Callable[..., None] | None


class JobQueue(QObject):
    """Runs jobs one at a time, each in its own worker thread (see the module docstring).

    When several kinds are pending, the one with the lowest `rank(kind)` runs first
    (the Inspection panel ranks with `app.inspection.views.priority`).
    `busy_changed(bool)` fires when the queue starts or stops having work, for a
    progress indicator.
    """

    busy_changed = Signal(bool)

    def __init__(self, rank: Callable[[str], int], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rank = rank
        self._pending: dict[str, _Request] = {}
        self._running: _Request | None = None
        self._worker: Worker | None = None
        self._generation: dict[str, int] = {}
        self._unique = 0
        self._busy = False

    def submit(
        self, kind: str, fn: Callable[..., Any], *args: Any,
        on_done: Callable[[Any], None], on_error: Callable[[BaseException, str], None] | None = None,
        on_progress: Callable[..., None] | None = None, supersede: bool = True,
    ) -> int:  # fmt: skip
        """Queue `fn(*args, job=...)`. With `supersede` a newer request of `kind` replaces
        the pending one and cancels the running one. Returns the request's generation."""
        if not supersede:  # e.g. loads: every drop counts
            self._unique += 1
            kind = f"{kind}#{self._unique}"
        generation = self._generation.get(kind, 0) + 1
        self._generation[kind] = generation
        self._pending.pop(kind, None)
        self._pending[kind] = _Request(kind, generation, fn, args, on_done, on_error, on_progress)
        if self._running is not None and self._running.kind == kind and self._worker is not None:
            self._worker.cancel()
        self._start_next()
        return generation

    def cancel(self, kind: str) -> None:
        """Forget `kind`: drop its pending request, cancel it if running, ignore its result."""
        self._generation[kind] = self._generation.get(kind, 0) + 1
        self._pending.pop(kind, None)
        if self._running is not None and self._running.kind == kind and self._worker is not None:
            self._worker.cancel()
        self._update_busy()

    def is_current(self, kind: str, generation: int) -> bool:
        return self._generation.get(kind) == generation

    def idle(self) -> bool:
        return self._worker is None and not self._pending

    def shutdown(self) -> None:
        """Drop what is pending, cancel and join what runs (the window is closing)."""
        self._pending.clear()
        worker = self._worker
        if worker is not None:
            worker.cancel()
            worker.join()
        self._worker = self._running = None
        self._update_busy()

    def _start_next(self) -> None:
        if self._worker is not None or not self._pending:
            self._update_busy()
            return
        kind = min(self._pending, key=self._rank)
        request = self._pending.pop(kind)
        worker = Worker(request.fn, *request.args)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.progressed.connect(self._on_worker_progressed)
        self._running, self._worker = request, worker
        worker.start()
        self._update_busy()

    def _end(self) -> _Request | None:
        request, self._running, self._worker = self._running, None, None
        if request is not None and self.is_current(request.kind, request.generation):
            return request
        return None

    def _on_worker_finished(self, result: object) -> None:
        request = self._end()
        if request is not None:
            request.on_done(result)
        self._start_next()

    def _on_worker_failed(self, exc: BaseException) -> None:
        worker = self._worker
        details = worker.traceback_text if worker is not None else ""
        request = self._end()
        if request is not None and request.on_error is not None:
            request.on_error(exc, details)
        self._start_next()

    def _on_worker_cancelled(self) -> None:
        self._end()
        self._start_next()

    def _on_worker_progressed(self, values: tuple) -> None:
        request = self._running
        if request is not None and request.on_progress is not None and self.is_current(
            request.kind, request.generation
        ):
            request.on_progress(*values)

    def _update_busy(self) -> None:
        busy = not self.idle()
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

