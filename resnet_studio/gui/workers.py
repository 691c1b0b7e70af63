"""Background jobs: one worker object per job, moved to its own QThread.

Why this shape (see napari's `_qt/qthreading.py`, glue-qt's `compute_worker.py`):

- The job is a plain function. It runs in a `_Runner` that lives in the job's thread;
  a `Worker` living in the GUI thread relays the runner's signals, so every callback
  and every connected slot runs in the GUI thread, lambdas included.
- Cancelling is cooperative: a job that accepts a `job` keyword gets a `JobControl`
  whose `progress()` and `check()` raise `Cancelled` once `cancel()` was asked for
  (core's download loop calls `progress(done, total)` per chunk, so that is enough).
- Deleting a running QThread aborts the process (qthread.cpp), so every started worker
  stays in a module registry until its thread has been joined, and `stop_all()` (called
  when the app quits) cancels and joins whatever is left.
- By the time `finished`, `failed` or `cancelled` is emitted the thread has been
  joined, so a test can assert right away that no thread is running.
"""

from __future__ import annotations

import gc
import inspect
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from resnet_studio.core.torch_preload import preload_torch_libraries


class Cancelled(Exception):
    """Raised inside a job once its worker was asked to stop."""


class JobControl:
    """Handed to a job as its `job` keyword: report progress, check for cancel."""

    def __init__(self, emit: Callable[[tuple], None]) -> None:
        self._emit = emit
        self.cancel_event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Stop here (raise `Cancelled`) if the user asked to cancel."""
        if self.cancel_event.is_set():
            raise Cancelled

    def progress(self, *values: Any) -> None:
        """Report plain values to `Worker.progressed`; raises `Cancelled` when cancelled."""
        self.check()
        self._emit(values)


class _Runner(QObject):
    """Runs the job in the worker thread and reports how it ended."""

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, control: JobControl):
        super().__init__()
        self._fn, self._args, self._kwargs, self._control = fn, args, kwargs, control
        self.traceback_text = ""

    @Slot()
    def run(self) -> None:
        try:
            preload_torch_libraries()
            result = self._fn(*self._args, **self._kwargs)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the GUI thread
            self.traceback_text = traceback.format_exc()
            self.failed.emit(exc)
        else:
            if self._control.cancelled:
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        finally:
            self._fn = self._args = self._kwargs = None  # drop models etc. early
            # Hand ourselves back to the GUI thread, so dropping us there later is safe.
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())
            QThread.currentThread().quit()


_ACTIVE: set[Worker] = set()


class Worker(QObject):
    """One background job. Signals fire in the GUI thread, after the thread was joined.

    `progressed` carries the tuple passed to `JobControl.progress`, `finished` the
    job's return value, `failed` the exception (`traceback_text` has its traceback).
    """

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.name = getattr(fn, "__name__", "job")
        self.control = JobControl(self._emit_progress)
        if _accepts_job(fn):
            kwargs["job"] = self.control
        self._runner: _Runner | None = _Runner(fn, args, kwargs, self.control)
        self._thread: QThread | None = None
        self.traceback_text = ""
        self.done = False

    def _emit_progress(self, values: tuple) -> None:
        runner = self._runner
        if runner is not None:
            runner.progressed.emit(values)

    def start(self) -> Worker:
        """Start the job in a new thread; the registry keeps this worker alive until joined."""
        if self._thread is not None or self._runner is None:
            raise RuntimeError("a Worker runs once; create a new one")
        runner = self._runner
        thread = QThread()
        thread.setObjectName(f"worker:{self.name}")
        runner.moveToThread(thread)
        thread.started.connect(runner.run)
        runner.progressed.connect(self._on_runner_progressed)
        runner.finished.connect(self._on_runner_finished)
        runner.failed.connect(self._on_runner_failed)
        runner.cancelled.connect(self._on_runner_cancelled)
        self._thread = thread
        _ACTIVE.add(self)
        thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop at its next `progress()`/`check()`; `cancelled` follows."""
        self.control.cancel_event.set()

    def is_running(self) -> bool:
        return self._thread is not None and not self.done

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the thread to end (True) or the timeout to pass (False)."""
        thread = self._thread
        if thread is None or self.done:
            return True
        ok = thread.wait() if timeout_s is None else thread.wait(max(0, int(timeout_s * 1000)))
        if ok:
            self._release()
        return ok

    def _release(self) -> None:
        """The thread has ended: forget it (safe to delete now) and leave the registry."""
        if self.done:
            return
        if self._thread is not None:
            self._thread.wait()
        self.done = True
        if self._runner is not None:
            self.traceback_text = self._runner.traceback_text
        _ACTIVE.discard(self)

    @Slot(object)
    def _on_runner_progressed(self, values: tuple) -> None:
        if not self.done and not self.control.cancelled:
            self.progressed.emit(values)

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        if not self.done:
            self._release()
            self.finished.emit(result)

    @Slot(object)
    def _on_runner_failed(self, exc: object) -> None:
        if not self.done:
            self._release()
            self.failed.emit(exc)

    @Slot()
    def _on_runner_cancelled(self) -> None:
        if not self.done:
            self._release()
            self.cancelled.emit()


def _accepts_job(fn: Callable[..., Any]) -> bool:
    try:
        return "job" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run_in_thread(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[..., None] | None = None,
    on_cancel: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Worker:
    """Run `fn(*args, **kwargs)` in a new thread; callbacks run in the GUI thread.

    If `fn` has a `job` parameter it gets a `JobControl`; `on_progress(*values)`
    receives what it passes to `job.progress(...)`.
    """
    worker = Worker(fn, *args, **kwargs)
    if on_done is not None:
        worker.finished.connect(on_done)
    if on_error is not None:
        worker.failed.connect(on_error)
    if on_progress is not None:
        worker.progressed.connect(lambda values: on_progress(*values))
    if on_cancel is not None:
        worker.cancelled.connect(on_cancel)
    return worker.start()


def active_workers() -> list[Worker]:
    """Workers whose thread has not been joined yet."""
    return list(_ACTIVE)


def stop_all(timeout_s: float = 10.0) -> list[Worker]:
    """Cancel every job and join its thread (app quit). Returns those still running."""
    workers = list(_ACTIVE)
    for worker in workers:
        worker.cancel()
    deadline = time.monotonic() + timeout_s
    left = []
    for worker in workers:
        if not worker.join(max(0.0, deadline - time.monotonic())):
            left.append(worker)
    return left


_COLLECTOR: Any = None


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector only in the GUI thread, on a timer.

    Left automatic, a collection may start in a worker thread and destroy a stale
    QObject there (a closed window's menu, say) while the GUI thread deletes another,
    each holding what the other waits for (a Qt mutex, the GIL): the window hangs for
    good. pyqtgraph's GarbageCollector turns automatic collection off and collects
    once a second in the thread that created it, as pyqtgraph recommends. Call it in
    the GUI thread once a QApplication exists; MainWindow does. Idempotent.
    """
    global _COLLECTOR
    if _COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _COLLECTOR = GarbageCollector(interval=1.0)
    gc.disable()  # again: something may have turned it back on
