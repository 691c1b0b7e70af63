"""The training job: core's `train()`/`resume()` on its own QThread, events as a signal.

The engine blocks until every run has ended and reports through `on_event(dict)`
from the worker thread. `TrainingWorker` relays each event dict to the GUI thread
(`event_received`, a queued connection via `Worker.progressed`); the panel only
appends it to plain arrays, and a timer redraws. Stop is the engine's own cooperative
`TrainControl.stop()`: the current step finishes, each run writes its checkpoint and
a "cancelled" status, and the job returns normally, so the "ended" events still
reach the panel. Quitting the app goes through `Worker.cancel()` (`workers.stop_all`),
which also stops the engine, so the thread ends and can be joined.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal, Slot

from resnet_studio.gui.workers import Worker


def _train_job(
    kind: str,
    targets: Sequence[Any],
    recipe: Any,
    overrides: dict[str, Any] | None,
    runs_dir: str | None,
    control: Any,
    job: Any,
) -> list[Any]:
    """Runs in the worker thread. `kind` is "train" (targets: model names, recipe) or
    "resume" (targets: run names, overrides)."""
    from resnet_studio.core.train import resume, train

    def on_event(event: dict[str, Any]) -> None:
        job._emit((event,))  # not job.progress(): that would raise on quit mid-step
        time.sleep(0)  # let the GUI thread take the GIL now, not after the next step

    if kind == "resume":
        return resume(list(targets), runs_dir=runs_dir, overrides=overrides,
                      on_event=on_event, control=control)  # fmt: skip
    return train(list(targets), recipe, runs_dir=runs_dir, on_event=on_event, control=control)


class TrainingWorker(Worker):
    """One comparison (or one resume) in a thread. Signals, in the GUI thread:
    `event_received(dict)` per engine event; `finished(list[RunResult])`,
    `failed(exc)` or `cancelled()` when the thread has been joined."""

    event_received = Signal(dict)

    def __init__(
        self,
        kind: str,
        targets: Sequence[Any],
        *,
        recipe: Any = None,
        overrides: dict[str, Any] | None = None,
        runs_dir: str | None = None,
    ) -> None:
        from resnet_studio.core.train import TrainControl

        self.train_control = TrainControl()
        super().__init__(_train_job, kind, list(targets), recipe, overrides,
                         runs_dir, self.train_control)  # fmt: skip
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
