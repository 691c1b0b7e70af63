"""The live-run bookkeeping of the Training panel, without Qt.

A training job reports typed events (`core.training_events`) many times a second.
`TrainingSession.handle` is their one dispatch: it appends points to each run's
`RunSeries`, keeps a `LiveRun` per run of the job (what its row in the runs table
shows) and notes which runs changed. It draws nothing: the panel's redraw timer
(20 Hz) reads `take_changed()` and the series' versions, so a burst of events costs
one redraw.

Everything a run produces is already in the run store, so the session can rebuild any
curve from `metrics.jsonl`: a resumed run's points so far, or a past run ticked in
the table (`series_for`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from resnet_studio.app.observable import Emitter
from resnet_studio.app.training.series import RunSeries
from resnet_studio.core.catalog import FAILED_STATUSES, ModelChoice
from resnet_studio.core.dataset_label import dataset_label
from resnet_studio.core.errors import StudioError
from resnet_studio.core.runs import Run, open_run
from resnet_studio.core.runs.grad_layers import read_grad_layers
from resnet_studio.core.training_events import (
    Evaluated,
    Loading,
    Paused,
    Progressed,
    Resumed,
    RunEnded,
    RunStarted,
    TrainingEvent,
)


@dataclass
class LiveRun:
    """A run of the current job, as its row in the runs table shows it."""

    status: str = "running"  # a catalog RUN_STATUSES value
    reason: str = ""
    iteration: int = 0
    total: int = 0  # iterations
    images_per_s: float | None = None
    eta_s: float | None = None  # None once it ended
    test_error: float | None = None  # the latest evaluation (test, else validation)
    shown: bool = True  # False once unticked: the table stops re-ticking it


class TrainingSession:
    """The runs with data in memory (`series`) and the runs of the current job
    (`live`). Emitter `message(text)`: what the job is doing, for the status line."""

    def __init__(self, runs_dir: str | Path) -> None:
        self.runs_dir = Path(runs_dir)
        self.series: dict[str, RunSeries] = {}  # every run with points in memory
        self.live: dict[str, LiveRun] = {}  # the runs of the current (or last) job
        self.changed: set[str] = set()  # live runs whose row needs refreshing
        self.table_stale = False  # a run appeared or ended: re-read the store's list
        self.message = Emitter()

    # ------------------------------------------------------------------ jobs
    def begin_job(self, shown: Iterable[str]) -> None:
        """A new job: forget the previous job's runs, keeping the points of those
        still drawn (`shown`); the others are re-read from the store if ticked."""
        shown = set(shown)
        for name in self.live:
            if name not in shown:
                self.series.pop(name, None)
        self.live.clear()

    def handle(self, event: TrainingEvent) -> None:
        """The one dispatch of the job's events (in the GUI thread, as they arrive)."""
        match event:
            case Progressed():
                series = self.series.get(event.run)
                if series is not None:
                    series.add(event.record())
                self._update(event.run, iteration=event.iteration, total=event.total_iterations,
                             images_per_s=event.images_per_s, eta_s=event.eta_s)  # fmt: skip
            case Evaluated():
                series = self.series.get(event.run)
                if series is not None:
                    series.add_evaluation({"iteration": event.iteration, "epoch": event.epoch,
                                           "val_error": event.val_error,
                                           "test_error": event.test_error})  # fmt: skip
                self._update(event.run, test_error=event.error)
            case RunStarted():
                self._start(event)
            case RunEnded():
                self._update(event.run, status=event.status, reason=event.reason,
                             iteration=event.iteration, eta_s=None)  # fmt: skip
            case Loading():
                text = event.describe()
                self.message.emit(text[:1].upper() + text[1:])
            case Paused():
                self.message.emit("Paused")
            case Resumed():
                self.message.emit("Training…")
            case _:
                pass  # Checkpointed: the store has it; the table shows it at the next read

    def _start(self, event: RunStarted) -> None:
        series = self.series.get(event.run)
        if series is None:
            series = RunSeries(event.run, event.model, event.dataset)
            if event.iteration:  # a resumed run: its curve so far comes from the store
                series.extend(open_run(event.run, self.runs_dir).read_metrics())
            self.series[event.run] = series
        series.dataset = event.dataset or series.dataset
        if event.grad_layers:
            series.set_grad_layers(event.grad_layers, event.grad_depths)
        series.truncate_after(event.iteration)  # the engine redoes what came after it
        series.total_iterations = event.total_iterations  # the plots' x range from the 1st point
        series.batches_per_epoch = event.batches_per_epoch
        self.live[event.run] = LiveRun(iteration=event.iteration, total=event.total_iterations)
        self.table_stale = True  # the new row appears at the next tick
        self.message.emit("Training…")

    def _update(self, name: str, **changes: object) -> None:
        live = self.live.get(name)
        if live is not None:
            for key, value in changes.items():
                setattr(live, key, value)
            self.changed.add(name)

    def end_job(self) -> None:
        """The job is over (finished, failed or cancelled): a run that never reported
        its end did not finish."""
        for name, live in self.live.items():
            if live.status == "running":
                live.status = "failed"
            self.changed.add(name)
        self.table_stale = True

    def take_changed(self) -> dict[str, LiveRun]:
        """The live runs changed since the last call (copies), for the redraw timer."""
        changed = {name: replace(self.live[name]) for name in self.changed if name in self.live}
        self.changed.clear()
        return changed

    def touch_live(self) -> None:
        """Every live row is to be refreshed (the table was re-read from the store)."""
        self.changed.update(self.live)

    def data_label(self) -> str:
        """What the shown curves were trained on, one line ("" when unknown): the plots
        say whether they are CIFAR-10's or the synthetic fallback's."""
        labels = list(dict.fromkeys(s.dataset for s in self.series.values() if s.dataset))
        return "Data: " + "; ".join(labels) if labels else ""

    # ------------------------------------------------------------------ runs
    def series_for(self, name: str) -> RunSeries:
        """A run's points: in memory, else read from its metrics.jsonl (StudioError or
        OSError when it cannot be read)."""
        series = self.series.get(name)
        if series is None:
            series = self.series[name] = stored_series(open_run(name, self.runs_dir))
        return series

    def set_shown(self, name: str, shown: bool) -> None:
        """A run's curves were ticked or unticked; an unticked past run's points are
        dropped (re-read when ticked again: it may have grown)."""
        live = self.live.get(name)
        if live is not None:
            live.shown = shown
        elif not shown:
            self.series.pop(name, None)

    def forget(self, name: str) -> None:
        """A run deleted from the store."""
        self.series.pop(name, None)
        self.live.pop(name, None)
        self.changed.discard(name)

    def runs_have_points(self, train_points: int, evaluations: int = 1) -> bool:
        """Whether every run of the job has that many training points and
        evaluations (the demo's screenshot waits for it); False before a job."""
        return bool(self.live) and all(
            name in self.series
            and self.series[name].train["loss"].size >= train_points
            and self.series[name].evals["error"].size >= evaluations
            for name in self.live
        )


def stored_series(run: Run) -> RunSeries:
    """A run's points as its folder holds them (StudioError or OSError when its
    metrics cannot be read); the Training panel and `runs --export-grad-norms` use it."""
    records = run.read_metrics()
    model = run.config.get("model", {})
    if isinstance(model, dict):
        label = ModelChoice(model.get("name", "?"), shortcut=model.get("shortcut")).label
    else:
        label = str(model)
    described = run.config.get("dataset")
    series = RunSeries(run.name, label, dataset_label(described) if isinstance(described, dict) else "")
    # a damaged layer list costs the layer names, not the curves: depths then count layers
    with contextlib.suppress(StudioError, OSError):
        layers = read_grad_layers(run.path)
        if layers is not None:
            series.set_grad_layers(*layers)
    series.extend(records)
    return series


def starting_text(job: str, engine: str) -> str:
    """The status line from Start until the engine's own events (Loading, then
    "Training…") take over: `job` says what starts ("Training 2 nets"), `engine` is
    the standby pool's state ("ready", "starting", "none"). Without a ready standby
    the wait is the engine's start (seconds), and the line says so."""
    if engine == "ready":
        return f"{job}…"
    return f"{job}: starting the training engine…"


def job_summary(results: Iterable[object]) -> tuple[str, bool]:
    """The status line after a job: "Done: 2 finished, 1 diverged." and whether any
    run failed or diverged (the line is then shown as an error)."""
    counts: dict[str, int] = {}
    bad = False
    for result in results:
        status = result.status  # core.train.RunResult
        counts[status] = counts.get(status, 0) + 1
        bad = bad or status in FAILED_STATUSES
    summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing ran"
    return f"Done: {summary}.", bad


def failure_text(exc: BaseException) -> str:
    """The status line when a job failed: our errors (and the engine's, from its
    process) say what to do themselves; anything else is named by its type."""
    if isinstance(exc, StudioError) or getattr(exc, "child_traceback", ""):
        return f"Training failed: {exc}"
    return f"Training failed: {type(exc).__name__}: {exc}"
