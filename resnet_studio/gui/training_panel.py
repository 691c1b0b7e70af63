"""The Training panel: train plain and residual nets side by side (the paper's Figure 6).

Left: what to train (`TrainingForm`) and Start / Pause / Stop. Right: the curves
(`TrainingPlots`) above the run store (`RunsTable`).

How the window stays smooth while a comparison trains:

- The engine (`core.train.train`/`resume`) runs in a `TrainingWorker` on its own
  QThread; its events arrive as dicts through a queued signal, and the slot only
  appends them to arrays (`RunSeries.add`) and notes what changed.
- A 20 Hz timer pushes changed runs into the curves (`setData`) and the live rows of
  the table; nothing is drawn per event.
- Everything a run produces is already in the run store, so Stop, closing the window
  and a crash all leave resumable runs; the panel can rebuild any curve from
  `metrics.jsonl`, which is how ticked runs come back after a restart.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.errors import StudioError
from resnet_studio.core.runs import default_runs_dir, delete_run, list_runs, open_run
from resnet_studio.gui import settings
from resnet_studio.gui.plots import RunSeries, TrainingPlots
from resnet_studio.gui.run_list import RunsTable
from resnet_studio.gui.training_form import FIGURE6_MODELS, TrainingForm
from resnet_studio.gui.training_worker import TrainingWorker
from resnet_studio.gui.widgets import status_color

TITLE = "Training"
REDRAW_MS = 50  # 20 Hz: smooth to the eye, a negligible share of the GUI thread
EXPORT_FILTERS = "PNG image (*.png);;SVG image (*.svg);;CSV of the points (*.csv)"
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


def create_panel(window: Any) -> TrainingPanel:
    """The main window's hook: build the panel, wire File > Export Plot and the palette."""
    panel = TrainingPanel(window=window)
    window.set_plot_exporter(panel.export_plot)
    window.palette_changed.connect(panel.plots.apply_palette)
    if getattr(window, "demo", False):
        QTimer.singleShot(0, panel.start_demo)
    return panel


class TrainingPanel(QWidget):
    """Signals: `training_started()`; `training_ended(results)` once the worker thread
    has been joined (results: core's RunResult list, empty when the job failed)."""

    training_started = Signal()
    training_ended = Signal(list)

    def __init__(self, window: Any = None, runs_dir: str | Path | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._window = window
        self.runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        self._persist = runs_dir is None and getattr(window, "persist", True)
        self._demo_dir: str | None = None
        self._worker: TrainingWorker | None = None
        self._series: dict[str, RunSeries] = {}  # every run with data in memory
        self._live: dict[str, dict[str, Any]] = {}  # runs of the current job
        self._changed: set[str] = set()  # live rows to refresh at the next tick
        self._table_stale = False
        self._build()
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self._on_redraw_timer_timeout)
        self._timer.start()
        self.refresh_runs()
        self._restore_overlays()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.form = TrainingForm()
        self.form.add_current_requested.connect(self._on_add_current_requested)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train the listed nets side by side on the same batches")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; runs keep a checkpoint and "
                                    "can be resumed from the runs table")  # fmt: skip
        self.start_button.clicked.connect(self._on_start_clicked)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.message_label = QLabel("Ready")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
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
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.message_label)

        self.plots = TrainingPlots()
        self.runs = RunsTable()
        self.runs.overlay_toggled.connect(self._on_runs_overlay_toggled)
        self.runs.resume_requested.connect(self._on_runs_resume_requested)
        self.runs.delete_requested.connect(self._on_runs_delete_requested)
        self.runs.refresh_requested.connect(self.refresh_runs)
        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(self._build_plot_bar())
        top_layout.addWidget(self.plots, 1)
        right.addWidget(top)
        right.addWidget(self.runs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        right.setSizes([560, 200])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._update_buttons()

    def _build_plot_bar(self) -> QHBoxLayout:
        self.x_combo = QComboBox()
        self.x_combo.addItems(["iterations", "epochs"])
        self.x_combo.currentTextChanged.connect(self.plots.set_x_axis)
        self.overlay_check = QCheckBox("One plot")
        self.overlay_check.setToolTip("Overlay plain and residual nets in one plot instead of "
                                      "Figure 6's two side by side")  # fmt: skip
        self.overlay_check.toggled.connect(self.plots.set_overlay)
        self.log_check = QCheckBox("Log y")
        self.log_check.toggled.connect(self.plots.set_log_y)
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(int(round(self.plots.smoothing * 100)))
        self.smooth_slider.setMaximumWidth(140)
        self.smooth_slider.setToolTip("TensorBoard's smoothing: a debiased exponential moving "
                                      "average; the raw curve stays faint underneath")  # fmt: skip
        self.smooth_label = QLabel()
        self.smooth_slider.valueChanged.connect(self._on_smooth_slider_changed)
        self._on_smooth_slider_changed(self.smooth_slider.value())
        export = QToolButton()
        export.setText("Export")
        export.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(export)
        menu.addAction("PNG image…", lambda: self.export_plot(".png"))
        menu.addAction("SVG image…", lambda: self.export_plot(".svg"))
        menu.addAction("CSV of the points…", lambda: self.export_plot(".csv"))
        export.setMenu(menu)
        legend = QLabel("dashed: training error   solid: test error")
        legend.setToolTip("As in the paper's Figure 6")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("x:"))
        bar.addWidget(self.x_combo)
        bar.addWidget(self.overlay_check)
        bar.addWidget(self.log_check)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smooth_slider)
        bar.addWidget(self.smooth_label)
        bar.addStretch(1)
        bar.addWidget(legend)
        bar.addWidget(export)
        return bar

    # ------------------------------------------------------------------ public
    def is_running(self) -> bool:
        return self._worker is not None

    def is_ready(self) -> bool:
        """For screenshots: with --demo, once every demo run has curves worth showing."""
        if self._window is None or not getattr(self._window, "demo", False):
            return True
        if not self._live:
            return False
        if self._worker is None:
            return True
        return all(
            name in self._series
            and self._series[name].train["loss"].size >= DEMO_READY_POINTS
            and self._series[name].evals["error"].size >= 1
            for name in self._live
        )

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
            self._hide_run(name)
        self._launch(TrainingWorker("train", models, recipe=recipe, runs_dir=str(self.runs_dir)),
                     f"Training {len(models)} net{'s' if len(models) > 1 else ''}…")  # fmt: skip
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
        """Continue runs from their checkpoints, on the device chosen in the form."""
        if self._worker is not None or not names:
            return False
        overrides = {"device": self.form.device_combo.currentText()}
        self._launch(TrainingWorker("resume", names, overrides=overrides, runs_dir=str(self.runs_dir)),
                     f"Resuming {len(names)} run{'s' if len(names) > 1 else ''}…")  # fmt: skip
        return True

    def stop(self) -> None:
        """Cooperative: the current step ends, every run checkpoints as "cancelled"."""
        if self._worker is not None:
            self._worker.stop()
            self._show_message("Stopping after the current step…")

    def pause(self, paused: bool = True) -> None:
        self.pause_button.setChecked(paused)

    def refresh_runs(self) -> None:
        """Read the run store again (config.json + status.json per run: fast)."""
        self._table_stale = False
        try:
            summaries = list_runs(self.runs_dir)
        except OSError as exc:
            self._show_message(f"Cannot read the runs folder {self.runs_dir}: {exc}", "error")
            summaries = []
        shown = self.plots.run_names()
        self.runs.load(summaries, checked=shown,
                       colors={name: self.plots.color_of(name) for name in shown})  # fmt: skip
        for name, info in self._live.items():
            self._changed.add(name)
            if name not in shown and info.get("show", True):
                self._show_run(name)

    def series(self, name: str) -> RunSeries | None:
        return self._series.get(name)

    def export_plot(self, suffix: str | None = None) -> None:
        """File > Export Plot…: ask for a file, then write PNG, SVG or CSV by its suffix."""
        start = str(Path(settings.last_folder("export")) / f"training{suffix or '.png'}")
        path, chosen = QFileDialog.getSaveFileName(self, "Export plot", start, EXPORT_FILTERS)
        if path:
            if not Path(path).suffix:
                path += ".svg" if "SVG" in chosen else ".csv" if "CSV" in chosen else ".png"
            self.export_to(path)
            settings.remember_folder("export", Path(path))

    def export_to(self, path: str | Path) -> None:
        path = Path(path)
        try:
            if path.suffix.lower() == ".csv":
                rows = self.plots.export_csv(path)
                self._show_message(f"Wrote {rows:,} points to {path}", "ok")
            else:
                self.plots.export_image(path)
                self._show_message(f"Saved the plot to {path}", "ok")
        except OSError as exc:
            self._show_message(f"Could not write {path}: {exc}", "error")

    def confirm_close(self) -> bool:
        """The main window asks before closing while a comparison trains."""
        if self._worker is None or not getattr(self._window, "persist", True):
            return True  # nothing to lose, or a screenshot closing its window
        return ask(self, "Training is running",
                   "Stop training and quit? Every run keeps its last checkpoint and can be "
                   "resumed from the runs table.")  # fmt: skip

    def shutdown(self) -> None:
        """Window closing: stop the engine, join its thread (the store has everything)."""
        self._timer.stop()
        self._save_overlays()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            worker.join()  # its signals are not delivered after this: nothing is left to do
        if self._demo_dir is not None:
            shutil.rmtree(self._demo_dir, ignore_errors=True)
            self._demo_dir = None

    # ------------------------------------------------------------------ jobs
    def _launch(self, worker: TrainingWorker, message: str) -> None:
        shown = set(self.plots.run_names())
        for name in self._live:  # the previous job's runs: re-read from the store if ticked
            if name not in shown:
                self._series.pop(name, None)
        self._live.clear()
        self._worker = worker
        worker.event_received.connect(self._on_worker_event)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.start()
        self._show_message(message)
        self._update_buttons()
        self.training_started.emit()

    @Slot(dict)
    def _on_worker_event(self, event: dict) -> None:
        """Only bookkeeping here: the timer draws."""
        kind, name = event.get("event"), event.get("run")
        if kind == "metrics":
            series = self._series.get(name)
            if series is not None:
                series.add({k: v for k, v in event.items() if k not in ("event", "run", "eta_s",
                                                                          "total_iterations")})  # fmt: skip
            self._update_live(name, iteration=event["iteration"], total=event["total_iterations"],
                              images_per_s=event.get("images_per_s"), eta_s=event.get("eta_s"))  # fmt: skip
            error = event.get("test_error", event.get("val_error"))
            if error is not None:
                self.runs.set_test_error(name, error)
        elif kind == "started":
            self._on_run_started(event)
        elif kind == "ended":
            self._update_live(name, status=event["status"], reason=event.get("reason", ""),
                              iteration=event.get("iteration", 0), eta_s=None)  # fmt: skip
        elif kind == "loading":
            total = event.get("total") or 0
            done = f" {100 * event['done'] / total:.0f}%" if total else ""
            self._show_message(f"Loading {event.get('what')}…{done}")
        elif kind == "paused":
            self._show_message("Paused")
        elif kind == "resumed":
            self._show_message("Training…")

    def _on_run_started(self, event: dict) -> None:
        name = event["run"]
        iteration = int(event.get("iteration") or 0)
        series = self._series.get(name)
        if series is None:
            series = RunSeries(name, event.get("model", "?"))
            if iteration:  # a resumed run: its curve so far comes from the store
                series.extend(open_run(name, self.runs_dir).read_metrics())
            self._series[name] = series
        series.truncate_after(iteration)  # the engine redoes what came after the checkpoint
        self._live[name] = {"status": "running", "reason": "", "iteration": iteration,
                            "total": int(event.get("total_iterations") or 0),
                            "images_per_s": None, "eta_s": None}  # fmt: skip
        self._table_stale = True  # the new row appears at the next tick
        self._show_message("Training…")

    def _update_live(self, name: str, **changes: Any) -> None:
        info = self._live.get(name)
        if info is not None:
            info.update(changes)
            self._changed.add(name)

    @Slot(object)
    def _on_worker_finished(self, results: list) -> None:
        self._worker = None
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing ran"
        bad = any(r.status in ("failed", "diverged") for r in results)
        self._show_message(f"Done: {summary}.", "error" if bad else "ok")
        self._end_job(results)

    @Slot(object)
    def _on_worker_failed(self, exc: BaseException) -> None:
        worker, self._worker = self._worker, None
        child_traceback = getattr(exc, "child_traceback", "")  # the engine's, from its process
        if isinstance(exc, StudioError) or child_traceback:
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        self._show_message(f"Training failed: {message}", "error")
        if worker is not None and not isinstance(exc, StudioError):
            self.message_label.setToolTip(child_traceback or worker.traceback_text)
        self._end_job([])

    @Slot()
    def _on_worker_cancelled(self) -> None:
        self._worker = None
        self._end_job([])

    def _end_job(self, results: list) -> None:
        for name, info in self._live.items():
            if info["status"] == "running":
                info["status"] = "failed"
            self._changed.add(name)
        self.pause_button.setChecked(False)
        self._update_buttons()
        self._table_stale = True
        self._on_redraw_timer_timeout()  # the last points, now
        self.training_ended.emit(results)

    # ------------------------------------------------------------------ overlays
    def _show_run(self, name: str) -> bool:
        """Draw a run's curves; a past run's points come from its metrics.jsonl."""
        series = self._series.get(name)
        if series is None:
            try:
                run = open_run(name, self.runs_dir)
                records = run.read_metrics()
                model = run.config.get("model", {})
            except (StudioError, OSError) as exc:
                self._show_message(str(exc), "error")
                return False
            label = model.get("name", "?") if isinstance(model, dict) else str(model)
            if isinstance(model, dict) and model.get("shortcut"):
                label += f" ({model['shortcut']})"
            series = RunSeries(name, label)
            series.extend(records)
            self._series[name] = series
        color = self.plots.add_run(series)
        self.runs.set_color(name, color)
        self.runs.set_checked(name, True)
        return True

    def _hide_run(self, name: str) -> None:
        self.plots.remove_run(name)
        self.runs.set_color(name, None)
        self.runs.set_checked(name, False)
        if name not in self._live:
            self._series.pop(name, None)  # re-read when ticked again: it may have grown
        else:
            self._live[name]["show"] = False

    def _restore_overlays(self) -> None:
        """Tick again the runs that were ticked when the app last closed."""
        if not self._persist:
            return
        names = settings.app_settings().value("training/overlays", [], type=list) or []
        for name in names:
            if name in self.runs.names():
                self._show_run(name)

    def _save_overlays(self) -> None:
        if self._persist:
            settings.app_settings().setValue("training/overlays", self.runs.checked_names())

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_redraw_timer_timeout(self) -> None:
        if self._table_stale:
            self.refresh_runs()
        self.plots.redraw()
        for name in self._changed:
            info = self._live.get(name)
            if info is not None:
                self.runs.set_live(name, **{k: v for k, v in info.items() if k != "show"})
        self._changed.clear()

    @Slot()
    def _on_start_clicked(self) -> None:
        self.start()

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        worker = self._worker
        self.pause_button.setText("Resume" if paused else "Pause")
        if worker is None:
            return
        if paused:
            worker.pause()
            self._show_message("Pausing after the current step…")
        else:
            worker.resume()

    @Slot()
    def _on_stop_clicked(self) -> None:
        self.stop()

    @Slot(str, bool)
    def _on_runs_overlay_toggled(self, name: str, shown: bool) -> None:
        if shown:
            if not self._show_run(name):
                self.runs.set_checked(name, False)
            elif name in self._live:
                self._live[name]["show"] = True
        else:
            self._hide_run(name)

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

    def delete_runs(self, names: list[str]) -> None:
        """Delete without asking (the dialog is the slot's job)."""
        for name in names:
            self._hide_run(name)
            self._series.pop(name, None)
            try:
                delete_run(name, self.runs_dir)
            except (StudioError, OSError) as exc:
                self._show_message(str(exc), "error")
        self.refresh_runs()

    @Slot()
    def _on_add_current_requested(self) -> None:
        model_panel = getattr(self._window, "model_panel", None)
        if model_panel is not None:
            self.form.add_model(model_panel.choice().name)

    @Slot(int)
    def _on_smooth_slider_changed(self, value: int) -> None:
        self.smooth_label.setText(f"{value / 100:.2f}")
        self.plots.set_smoothing(value / 100)

    # ------------------------------------------------------------------ helpers
    def _update_buttons(self) -> None:
        running = self._worker is not None
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.form.set_running(running)
        self.runs.set_busy(running)

    def _show_message(self, text: str, kind: str = "") -> None:
        self.message_label.setText(text)
        self.message_label.setToolTip("")
        color = status_color(kind).name() if kind else ""
        self.message_label.setStyleSheet(f"color: {color}" if color else "")
