"""The training job: core's `train()`/`resume()` in a child process, driven from a
QThread of its own, events as a signal.

`core.training_process.run_in_process` starts the engine in a child process (why a
process and not this thread: see that module; in short the GIL and OpenMP made the
window stutter and the training slower) and blocks until every run has ended,
calling `on_event(event)` in the worker thread for each typed event the child sends
(`core.training_events`, rebuilt from the pipe's JSON). `TrainingWorker` relays each
to the GUI thread (`event_received`, a queued connection via `Worker.progressed`);
the panel hands it to its `TrainingSession`, which only appends to plain arrays, and
a timer redraws. Stop is the engine's own cooperative `TrainControl.stop()`,
forwarded to the child: the current step finishes, each run writes its checkpoint
and a "cancelled" status, and the job returns normally, so the runs' ending events
still reach the panel. Quitting the app goes through
`Worker.cancel()` (`workers.stop_all`), which also stops the engine, so the thread
ends and can be joined. If the child dies (killed, out of memory), the job fails
with a message saying so, and the runs keep their last checkpoints.

`EngineStandbyTimer` keeps a training engine waiting for the next Start
(`core.engine_standby`): a moment after the panel is built (core has loaded, the
window is idle) and after each job, its timer asks the pool for a standby; the job
then skips the child's boot and torch import. It only forwards: the pool decides
(never two standbys, none while a job runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from resnet_studio.core.engine_standby import EnginePool
from resnet_studio.core.training_events import TrainingEvent
from resnet_studio.gui.workers import Worker

# How long the window must have been idle (after the panels were built, after a job)
# before a standby engine boots: the first paint and the last redraws come first.
STANDBY_DELAY_MS = 1500


def _train_job(
    kind: str,
    targets: Sequence[Any],
    recipe: Any,
    overrides: dict[str, Any] | None,
    runs_dir: str | None,
    control: Any,
    pool: EnginePool | None,
    job: Any,
) -> list[Any]:
    """Runs in the worker thread. `kind` is "train" (targets: model names, recipe) or
    "resume" (targets: run names, overrides)."""
    from resnet_studio.core.training_process import run_in_process

    def on_event(event: TrainingEvent) -> None:
        job._emit((event,))  # not job.progress(): that would raise on quit mid-step

    return run_in_process(kind, list(targets), recipe=recipe, overrides=overrides,
                          runs_dir=runs_dir, on_event=on_event, control=control,
                          pool=pool)  # fmt: skip


class TrainingWorker(Worker):
    """One comparison (or one resume) in a thread. Signals, in the GUI thread:
    `event_received(TrainingEvent)` per engine event; `finished(list[RunResult])`,
    `failed(exc)` or `cancelled()` when the thread has been joined."""

    event_received = Signal(object)  # a core.training_events.TrainingEvent

    def __init__(
        self,
        kind: str,
        targets: Sequence[Any],
        *,
        recipe: Any = None,
        overrides: dict[str, Any] | None = None,
        runs_dir: str | None = None,
        pool: EnginePool | None = None,
    ) -> None:
        from resnet_studio.core.train import TrainControl

        self.train_control = TrainControl()
        self.recipe = recipe  # what a failure is about (the panel offers a fallback)
        super().__init__(_train_job, kind, list(targets), recipe, overrides,
                         runs_dir, self.train_control, pool)  # fmt: skip
        self.name = f"training:{kind}"
        self.progressed.connect(self._on_progressed)

    @Slot(object)
    def _on_progressed(self, values: tuple) -> None:
        self.event_received.emit(values[0])

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Cooperative stop: runs end as "cancelled" with a checkpoint; events keep coming."""
        self.train_control.stop()

    def pause(self) -> None:
        self.train_control.pause()

    def resume(self) -> None:
        self.train_control.resume()

    @property
    def paused(self) -> bool:
        return self.train_control.paused

    def cancel(self) -> None:
        """Quitting: stop the engine too, or `stop_all()` would wait on a paused loop."""
        self.train_control.stop()
        super().cancel()


class EngineStandbyTimer(QObject):
    """The panel's standby engine: `pool` (None when disabled: tests, screenshots),
    warmed `STANDBY_DELAY_MS` after `schedule()` (and after it is built) unless
    `busy()` says a job runs."""

    def __init__(self, parent: QObject, enabled: bool, busy: Any) -> None:
        super().__init__(parent)
        self.pool = EnginePool() if enabled else None
        self._busy = busy
        self._timer = QTimer(self, singleShot=True, interval=STANDBY_DELAY_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.schedule()

    def schedule(self) -> None:
        """Warm a standby once the window has been idle a moment."""
        if self.pool is not None:
            self._timer.start()

    def state(self) -> str:
        """The pool's "ready", "starting" or "none"."""
        return self.pool.state() if self.pool is not None else "none"

    def close(self) -> None:
        """The window closes: kill and reap a waiting standby at once."""
        self._timer.stop()
        if self.pool is not None:
            self.pool.close()

    @Slot()
    def _on_timer_timeout(self) -> None:
        if self.pool is not None and not self._busy():
            self.pool.warm()
