"""The Training panel: train plain and residual nets side by side (the paper's Figure 6).

Left: what to train (`TrainingForm`) and Start / Pause / Stop. Right: the curves
(`TrainingPlots`), the gradient flow by depth (`GradientView`) and the run store
(`RunsTable`).

How the window stays smooth while a comparison trains:

- The engine (`core.train.train`/`resume`) runs in a `TrainingWorker` (a child
  process driven from its own QThread); its typed events arrive through a queued
  signal, and the slot hands them to the panel's `TrainingSession` (app layer, no
  Qt), which only appends to arrays and notes what changed.
- A 20 Hz timer pushes changed runs into the curves (`setData`) and the live rows of
  the table; nothing is drawn per event.
- Everything a run produces is already in the run store, so Stop, closing the window
  and a crash all leave resumable runs; the session can rebuild any curve from
  `metrics.jsonl`, which is how ticked runs come back after a restart.
- The runs table, ticked curves and the polling of the folder for runs that other
  processes write (a terminal, a cluster) are the run-store side, `RunsBinding`
  (gui/runs_binding.py); its polls run in a worker thread, never in this one.

The window builds it with a `PanelContext`, connects File > Export Plot to
`export_plot`, and with `context.demo` calls `start_demo()`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QMessageBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from resnet_studio.app.training.session import (
    TrainingSession,
    failure_text,
    job_summary,
    starting_text,
)
from resnet_studio.core.errors import DataError, StudioError
from resnet_studio.core.runs import default_runs_dir, open_run
from resnet_studio.core.training_events import TrainingEvent
from resnet_studio.gui.gradient_view import GradientView
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.plots import PlotControls, TrainingPlots, ask_export_path
from resnet_studio.gui.run_list import RunsTable
from resnet_studio.gui.runs_binding import RunsBinding
from resnet_studio.gui.training_form import FIGURE6_MODELS, JobBar, TrainingForm
from resnet_studio.gui.training_worker import EngineStandbyTimer, TrainingWorker

REDRAW_MS = 50  # 20 Hz: smooth to the eye, a negligible share of the GUI thread
# --demo: Figure 6's four nets, small enough to show curves within seconds on a CPU.
DEMO_OVERRIDES = dict(image_size=8, batch_size=16, lr=0.02, val_size=128, iterations=32,
                      milestones=(24,), eval_every=6, log_every=2, checkpoint_every=32,
                      seed=0)  # fmt: skip
DEMO_READY_POINTS = 12  # training points per run (of 16) before a screenshot is worth taking


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A Yes/No question (a function, so tests can answer it)."""
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)  # fmt: skip
    return answer == QMessageBox.StandardButton.Yes


class TrainingPanel(QWidget):
    """A `Panel`. Signals: `training_started()`; `training_ended(results)` once the
    worker thread has been joined (results: core's RunResult list, empty when the job
    failed). `session` holds the runs' points and the current job's state."""

    TITLE = "Training"
    training_started = Signal()
    training_ended = Signal(list)

    def __init__(self, context: PanelContext, runs_dir: str | Path | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._context = context
        self._persist = runs_dir is None and context.persist
        self.session = TrainingSession(runs_dir if runs_dir is not None else default_runs_dir())
        self.session.message.connect(self._show_message)
        self._demo_dir: str | None = None
        self._worker: TrainingWorker | None = None
        self.engine = EngineStandbyTimer(self, context.standby, self.is_running)  # scheduled
        self._build()
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self._on_redraw_timer_timeout)
        self._timer.start()
        self.refresh_runs()
        if self._persist:
            self.store.when_listed(lambda _summaries: self.store.restore_overlays())
        self.store.watcher.start()  # runs other processes write: polled off this thread

    @property
    def runs_dir(self) -> Path:
        return self.session.runs_dir

    @runs_dir.setter
    def runs_dir(self, folder: str | Path) -> None:
        self.store.set_folder(folder)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.form = TrainingForm()
        self.form.add_current_requested.connect(self._on_add_current_requested)
        self.job_bar = JobBar()
        self.job_bar.start_clicked.connect(self._on_job_bar_start_clicked)
        self.job_bar.pause_toggled.connect(self._on_job_bar_pause_toggled)
        self.job_bar.stop_clicked.connect(self._on_job_bar_stop_clicked)
        scroll = QScrollArea()  # the settings scroll; the buttons below always show
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.form.sizeHint().width() + 16)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self.job_bar)

        self.plots = TrainingPlots()
        self.controls = PlotControls(self.plots)
        self.controls.export_requested.connect(self._on_controls_export_requested)
        self.runs = RunsTable()
        self.runs.resume_requested.connect(self._on_runs_resume_requested)
        self.runs.delete_requested.connect(self._on_runs_delete_requested)
        self.store = RunsBinding(self.session, self.plots, self.runs, self._show_message,
                                 self._own_runs, self)  # fmt: skip
        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.controls)
        self.data_label = QLabel()  # CIFAR-10 or the synthetic fallback, said above the curves
        self.data_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top_layout.addWidget(self.data_label)
        top_layout.addWidget(self.plots, 1)
        self.gradients = GradientView(self.plots)  # gradient flow: the plotted runs, by depth
        right.addWidget(top)
        right.addWidget(self.gradients)
        right.addWidget(self.runs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(2, 1)
        right.setSizes([480, 180, 200])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._update_buttons()

    # ------------------------------------------------------------------ Panel
    def is_ready(self) -> bool:
        """For screenshots: once the runs table has its rows; with --demo, once every demo
        run has curves worth showing."""
        if not self._context.demo:
            return not self.store.listing_due()  # the table has its rows
        if self._worker is None:
            return bool(self.session.live)
        return self.session.runs_have_points(DEMO_READY_POINTS)

    def confirm_close(self) -> bool:
        """The main window asks before closing while a comparison trains."""
        if self._worker is None or not self._context.persist:
            return True  # nothing to lose, or a screenshot closing its window
        return ask(self, "Training is running",
                   "Stop training and quit? Every run keeps its last checkpoint and can be "
                   "resumed from the runs table.")  # fmt: skip

    def shutdown(self) -> None:
        """Window closing: stop the engine, join its thread (the store has everything)."""
        self._timer.stop()
        self.engine.close()  # a waiting standby is killed at once: it holds no job
        self.store.shutdown()
        self.session.message.disconnect(self._show_message)
        if self._persist:
            self.store.save_overlays()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            worker.join()  # its signals are not delivered after this: nothing is left to do
        if self._demo_dir is not None:
            shutil.rmtree(self._demo_dir, ignore_errors=True)
            self._demo_dir = None

    def apply_palette(self) -> None:
        """Follow the window's light/dark palette."""
        self.plots.apply_palette()
        self.gradients.apply_palette()

    # ------------------------------------------------------------------ public
    def is_running(self) -> bool:
        return self._worker is not None

    def start(self, models: list[str] | None = None, recipe: Any = None) -> bool:
        """Start a comparison (the form's settings unless given); False if it could not."""
        if self._worker is not None:
            return False
        try:
            models = models or self.form.models()
            recipe = recipe or self.form.recipe()
        except (StudioError, KeyError) as exc:
            self._show_message(str(exc).strip('"'), "error")
            return False
        for name in list(self.runs.checked_names()):  # a fresh Figure 6
            self.store.hide_run(name)
        self._launch("train", models, f"Training {len(models)} net{'s' if len(models) > 1 else ''}",
                     recipe=recipe)  # fmt: skip
        return True

    def start_demo(self) -> None:
        """--demo: the Figure 6 nets for a few seconds, in a throwaway runs folder."""
        from resnet_studio.core.recipes import get_recipe

        self._demo_dir = tempfile.mkdtemp(prefix="resnet-studio-demo-")
        self.runs_dir = Path(self._demo_dir)
        self._persist = False
        self.refresh_runs()
        recipe = get_recipe("quick").with_overrides(**DEMO_OVERRIDES)
        self.form.set_models(FIGURE6_MODELS)
        self.form.show_recipe(recipe)
        self.start(list(FIGURE6_MODELS), recipe)

    def resume_runs(self, names: list[str]) -> bool:
        """Continue runs from their checkpoints, on the device chosen in the form. The
        runs' files are checked first (no torch, a blink): a damaged one is named in
        the status line and nothing starts; the weights are checked by the engine."""
        if self._worker is not None or not names:
            return False
        try:
            for name in names:
                open_run(name, self.runs_dir).check_resumable()
        except StudioError as exc:
            self._show_message(f"Cannot resume: {exc}", "error")
            return False
        self._launch("resume", names, f"Resuming {len(names)} run{'s' if len(names) > 1 else ''}",
                     overrides={"device": self.form.device()})  # fmt: skip
        return True

    def stop(self) -> None:
        """Cooperative: the current step ends, every run checkpoints as "cancelled"."""
        if self._worker is not None:
            self._worker.stop()
            self._show_message("Stopping after the current step…")

    def pause(self, paused: bool = True) -> None:
        self.job_bar.set_paused(paused)

    def show_latest_comparison(self) -> None:
        """Tick the runs of the newest comparison in the store (one run per net of its
        `comparison`), e.g. for a screenshot of a Figure 6 trained earlier: once the
        store's listing is in (`is_ready` waits for it)."""
        self.store.when_listed(self.store.show_newest_comparison)
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the run store again; the rows come with the next poll, off this thread."""
        self.store.refresh()

    def export_plot(self, suffix: str | None = None) -> None:
        """File > Export Plot…: ask for a file, then write PNG, SVG or CSV by its suffix."""
        path = ask_export_path(self, suffix)
        if path is not None:
            self.export_to(path)

    def export_to(self, path: str | Path) -> None:
        try:
            self._show_message(self.plots.export(path), "ok")
        except OSError as exc:
            self._show_message(f"Could not write {path}: {exc}", "error")

    def delete_runs(self, names: list[str]) -> None:
        """Delete without asking (the dialog is the slot's job)."""
        self.store.delete(names)

    # ------------------------------------------------------------------ jobs
    def _launch(self, kind: str, targets: list[str], job: str, **options: Any) -> None:
        message = starting_text(job, self.engine.state())  # before the worker takes the standby
        self.session.begin_job(shown=self.plots.run_names())
        self._worker = worker = TrainingWorker(kind, targets, runs_dir=str(self.runs_dir),
                                               pool=self.engine.pool, **options)  # fmt: skip
        worker.event_received.connect(self._on_worker_event_received)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.start()
        self._show_message(message)
        self._update_buttons()
        self.training_started.emit()

    @Slot(object)
    def _on_worker_event_received(self, event: TrainingEvent) -> None:
        self.session.handle(event)  # only bookkeeping: the timer draws

    @Slot(object)
    def _on_worker_finished(self, results: list) -> None:
        self._worker = None
        text, bad = job_summary(results)
        self._show_message(text, "error" if bad else "ok")
        self._end_job(results)

    @Slot(object)
    def _on_worker_failed(self, exc: BaseException) -> None:
        worker, self._worker = self._worker, None
        # the engine's traceback (from its process), else the worker thread's
        details = "" if worker is None or isinstance(exc, StudioError) else (
            getattr(exc, "child_traceback", "") or worker.traceback_text)  # fmt: skip
        self._show_message(failure_text(exc), "error", details)
        self._end_job([])
        recipe = worker.recipe if worker is not None else None
        if isinstance(exc, DataError) and recipe is not None and recipe.dataset in ("cifar10", "cifar100"):
            self._offer_synthetic(str(exc))

    def _offer_synthetic(self, problem: str) -> None:
        """CIFAR could not be had (offline): the same comparison on synthetic data, if asked."""
        if ask(self, "CIFAR not available", f"{problem}\n\nTrain the same nets on the built-in "
               "synthetic data instead? Its curves are labelled as synthetic, not CIFAR-10."):  # fmt: skip
            self.form.use_synthetic()
            self.start()

    @Slot()
    def _on_worker_cancelled(self) -> None:
        self._worker = None
        self._end_job([])

    def _end_job(self, results: list) -> None:
        self.engine.schedule()  # the next Start finds an engine waiting
        self.session.end_job()
        self._update_buttons()  # un-pauses the Pause button too
        self._on_redraw_timer_timeout()  # the last points, now
        self.training_ended.emit(results)

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_redraw_timer_timeout(self) -> None:
        if self.session.table_stale:
            self.refresh_runs()
        self.plots.redraw()
        self.data_label.setText(self.session.data_label())
        self.data_label.setVisible(bool(self.data_label.text()))
        self.gradients.redraw()
        for name, live in self.session.take_changed().items():
            self.runs.set_live(name, live)

    @Slot()
    def _on_job_bar_start_clicked(self) -> None:
        self.start()

    @Slot(bool)
    def _on_job_bar_pause_toggled(self, paused: bool) -> None:
        worker = self._worker
        if worker is None:
            return
        if paused:
            worker.pause()
            self._show_message("Pausing after the current step…")
        else:
            worker.resume()

    @Slot()
    def _on_job_bar_stop_clicked(self) -> None:
        self.stop()

    @Slot(str)
    def _on_controls_export_requested(self, suffix: str) -> None:
        self.export_plot(suffix)

    @Slot(list)
    def _on_runs_resume_requested(self, names: list) -> None:
        self.resume_runs(names)

    @Slot(list)
    def _on_runs_delete_requested(self, names: list) -> None:
        if not names or self._worker is not None:
            return
        listing = "\n".join(names[:10]) + ("\n…" if len(names) > 10 else "")
        if not ask(self, "Delete runs", f"Delete {len(names)} run folder(s) with their "
                   f"checkpoints and metrics? This cannot be undone.\n\n{listing}"):  # fmt: skip
            return
        self.delete_runs(names)

    @Slot()
    def _on_add_current_requested(self) -> None:
        self.form.add_model(self._context.model.choice.name)

    # ------------------------------------------------------------------ helpers
    def _own_runs(self) -> set[str]:
        """The runs of the job training now: their points come from its events."""
        return set(self.session.live) if self._worker is not None else set()

    def _update_buttons(self) -> None:
        running = self._worker is not None
        self.job_bar.set_running(running)
        self.form.set_running(running)
        self.runs.set_busy(running)

    def _show_message(self, text: str, kind: str = "", details: str = "") -> None:
        self.job_bar.show_message(text, kind, details)
