"""The Analyze… dialog: why residual nets train, measured on the Model panel's network.

Two tabs, as `resnet-studio analyze` has two commands: Lesion (the test error with
blocks removed, on a test set) and Landscape (the loss along filter-normalised random
directions, on a subset of the training set). A box adds the network's plain/residual
twin with its own weights. Start runs `app.analysis.AnalysisJob` in a worker with a
progress bar and Cancel; the curves and maps are drawn by `gui/analysis_plots`, and
Save… writes the same files as the CLI. Errors are shown here; the dialog never dies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app import analysis
from resnet_studio.app.evaluation_form import DatasetChoice, loaded_for_evaluation, weights_warning
from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice, twin
from resnet_studio.core.errors import ModelNameError, StudioError
from resnet_studio.gui import settings
from resnet_studio.gui.analysis_plots import LandscapePlots, LesionPlots
from resnet_studio.gui.widgets import status_color
from resnet_studio.gui.workers import Cancelled, JobControl, Worker, run_in_thread

FOLDER_KEY = "analysis"  # gui/settings' last-folder key of this dialog


def run_analysis(
    request: analysis.Request, choice: ModelChoice, weights: Any, job: JobControl
) -> list:
    """The worker's job: a copy of the window's network (and the twin the request
    names) through `AnalysisJob`; Cancel raises `Cancelled` at the next pass."""
    loaded = loaded_for_evaluation(choice, weights)
    job.check()
    try:
        return analysis.AnalysisJob(request, loaded=loaded).run(on_event=job.progress)
    except analysis.AnalysisCancelled:
        raise Cancelled from None


def write_files_job(results: list, folder: str) -> list[str]:
    from resnet_studio.core.analysis import write_landscape_report, write_lesion_report

    write = write_lesion_report if hasattr(results[0], "single") else write_landscape_report
    return [str(path) for path in write(results, folder).values()]


def _dataset(path: str) -> str:
    """The spec of a zip or folder path (DatasetChoice checks that it exists)."""
    kind = "zip" if path.strip().lower().endswith(".zip") else "folder"
    return DatasetChoice(kind, path).spec()


class _PathRow(QWidget):
    """A path field with Browse… (a zip file, or a folder)."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.button = QPushButton("Browse…")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        self.button.clicked.connect(self._on_browse_clicked)

    @Slot()
    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Images (zip)", settings.last_folder(FOLDER_KEY),
                                              "Zip archives of images (*.zip);;All files (*)")  # fmt: skip
        if path:
            self.edit.setText(path)


class AnalysisDialog(QDialog):
    """Signals: `analysed(results)` when an analysis finished (core results, the
    model first). `results` holds the last ones shown per tab ("lesion", "landscape")."""

    analysed = Signal(object)

    def __init__(
        self, state: ModelState, parent: QWidget | None = None, *, persist: bool = True
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Analyze")
        self.state = state
        self.results: dict[str, list] = {}
        self._persist = persist
        self._worker: Worker | None = None
        self._running_tab = ""
        self._build()
        self.state.changed.connect(self._on_model_changed)
        self._on_model_changed(state.choice, state.weights)
        self._set_running(False)
        self.resize(900, 820)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.model_label, self.warning_label = QLabel(), QLabel()
        self.warning_label.setWordWrap(True)
        self.twin_box = QCheckBox()
        self.twin_weights = _PathRow(
            "twin's weights: a file, a run, a pretrained name, or 'random'"
        )
        twin_row = QHBoxLayout()
        twin_row.addWidget(self.twin_box)
        twin_row.addWidget(self.twin_weights, 1)

        self.lesion_data = _PathRow("test images: test.zip or a folder of <class>/ folders")
        self.lesion_images = QSpinBox(minimum=1, maximum=1_000_000, value=1000, singleStep=100)
        self.lesion_draws = QSpinBox(minimum=0, maximum=50, value=3)
        self.lesion_draws.setToolTip(
            "Random orders of removal: each gives the error for k = 1..n blocks removed"
        )
        self.lesion_plots = LesionPlots()
        lesion_form = QFormLayout()
        lesion_form.addRow("Test set", self.lesion_data)
        lesion_form.addRow("Images", self.lesion_images)
        lesion_form.addRow("Random draws", self.lesion_draws)
        self.land_data = _PathRow("training images: train.zip or a folder")
        self.land_dims = QComboBox()
        self.land_dims.addItem("1D line", 1)
        self.land_dims.addItem("2D grid", 2)
        self.land_points = QSpinBox(minimum=3, maximum=101, value=51, singleStep=2)
        self.land_span = QDoubleSpinBox(minimum=0.01, maximum=10.0, value=1.0, singleStep=0.25)
        self.land_images = QSpinBox(minimum=1, maximum=1_000_000, value=2000, singleStep=500)
        self.land_plots = LandscapePlots()
        land_form = QFormLayout()
        land_form.addRow("Training set", self.land_data)
        land_form.addRow("Directions", self.land_dims)
        land_form.addRow("Points per axis", self.land_points)
        land_form.addRow("Span (± steps)", self.land_span)
        land_form.addRow("Images", self.land_images)
        self.tabs = QTabWidget()
        for form, plots, title in (
            (lesion_form, self.lesion_plots, "Lesion"),
            (land_form, self.land_plots, "Landscape"),
        ):
            page = QWidget()
            layout = QVBoxLayout(page)
            layout.addLayout(form)
            layout.addWidget(plots, 1)
            self.tabs.addTab(page, title)

        self.run_button = QPushButton("Analyze")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip(
            "Write the JSON, CSV and PNG files `resnet-studio analyze --out` writes"
        )
        self.progress = QProgressBar()
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.save_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        for widget in (self.model_label, self.warning_label):
            layout.addWidget(widget)
        layout.addLayout(twin_row)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(run_row)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.land_dims.currentIndexChanged.connect(self._on_dims_changed)
        last = settings.last_folder(FOLDER_KEY) if self._persist else ""
        if last:
            self.lesion_data.edit.setText(
                str(Path(last) / "test.zip") if (Path(last) / "test.zip").is_file() else ""
            )
            self.land_data.edit.setText(
                str(Path(last) / "train.zip") if (Path(last) / "train.zip").is_file() else ""
            )

    # ------------------------------------------------------------------ public API
    def tab(self) -> str:
        return "lesion" if self.tabs.currentIndex() == 0 else "landscape"

    def request(self) -> analysis.Request:
        """The request the form names for the current tab (StudioError if incomplete)."""
        compare = analysis.TWIN if self.twin_box.isChecked() and self.twin_box.isEnabled() else None
        twin_weights = self.twin_weights.edit.text().strip() or None
        common = dict(
            model=self.state.choice.name,
            weights=None,
            compare=compare,
            compare_weights=twin_weights,
        )
        if self.tab() == "lesion":
            return analysis.LesionRequest(dataset=_dataset(self.lesion_data.edit.text()),
                                          images=self.lesion_images.value(),
                                          draws=self.lesion_draws.value(), **common)  # fmt: skip
        return analysis.LandscapeRequest(dataset=_dataset(self.land_data.edit.text()), dims=self.land_dims.currentData(),
                                         points=self.land_points.value(), span=self.land_span.value(),
                                         images=self.land_images.value(), **common)  # fmt: skip

    def start(self) -> bool:
        """Run the current tab's analysis in a worker; False (and a message) when the
        form is incomplete or an analysis already runs."""
        if self._worker is not None:
            return False
        try:
            request = self.request()
        except StudioError as exc:
            self._show(str(exc), "error")
            return False
        if self._persist:
            settings.remember_folder(
                FOLDER_KEY, str(Path(request.dataset.partition(":")[2]).parent)
            )
        self._running_tab = self.tab()
        self._worker = run_in_thread(
            run_analysis, request, self.state.choice, self.state.weights,
            on_done=self._on_job_finished, on_error=self._on_job_failed,
            on_progress=self._on_job_progressed, on_cancel=self._on_job_cancelled,
        )  # fmt: skip
        self._set_running(True)
        self._show(f"Analysing {self.state.choice.name}…", "info")
        return True

    def running(self) -> bool:
        return self._worker is not None

    def cancel(self) -> None:
        """Stop at the next forward pass; what was shown stays."""
        if self._worker is not None:
            self._worker.cancel()

    def save_to(self, folder: str | Path) -> None:
        """Write the current tab's files into `folder`, in a worker."""
        results = self.results.get(self.tab())
        if not results or self._worker is not None:
            return
        self._worker = run_in_thread(write_files_job, results, str(folder),
                                     on_done=self._on_files_written, on_error=self._on_job_failed)  # fmt: skip
        self._set_running(True)

    def shutdown(self) -> None:
        """Cancel the job, join its thread and stop following the state."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker.join()
            self._worker = None
        self.state.changed.disconnect(self._on_model_changed)
        self.close()

    # ------------------------------------------------------------------ drawing
    def _show(self, text: str, kind: str) -> None:
        self.message.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.message.setText(text)
        self.message.setToolTip("")

    def _set_running(self, running: bool) -> None:
        for widget in (self.run_button, self.tabs.tabBar(), self.twin_box, self.twin_weights,
                       self.lesion_data, self.land_data):  # fmt: skip
            widget.setEnabled(not running)
        self.save_button.setEnabled(not running and bool(self.results.get(self.tab())))
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat("starting…")

    def _summarise(self) -> None:
        results = self.results.get(self.tab())
        lines = [] if not results else (analysis.lesion_lines(results) if self.tab() == "lesion"
                                        else analysis.landscape_lines(results))  # fmt: skip
        self.summary.setText("\n".join(lines))

    # ------------------------------------------------------------------ slots
    def _on_model_changed(self, choice: ModelChoice, weights: Any) -> None:
        source = "random initialisation" if weights is None else Path(str(weights.source)).name
        self.model_label.setText(f"<b>{choice.name}</b> with {source} (the Model panel's network)")
        warning = weights_warning(self.state)
        self.warning_label.setText(warning or "")
        self.warning_label.setVisible(bool(warning))
        self.warning_label.setStyleSheet(f"color: {status_color('error', self.palette()).name()};")
        try:
            self.twin_box.setText(f"beside its twin {twin(choice.name)}")
            self.twin_box.setEnabled(True)
        except ModelNameError:
            self.twin_box.setText("no plain/residual twin")
            self.twin_box.setEnabled(False)

    @Slot()
    def _on_run_clicked(self) -> None:
        self.start()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.cancel()

    @Slot()
    def _on_save_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save to", settings.last_folder("reports"))
        if folder:
            if self._persist:
                settings.remember_folder("reports", folder)
            self.save_to(folder)

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        self._summarise()
        self._set_running(self._worker is not None)

    @Slot(int)
    def _on_dims_changed(self, index: int) -> None:
        self.land_points.setValue(51 if self.land_dims.currentData() == 1 else 21)

    def _on_job_progressed(self, event: Any) -> None:
        share = analysis.fraction(event)
        if share is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * share))
        self.progress.setFormat(analysis.progress_text(event))

    def _on_job_finished(self, results: list) -> None:
        self._worker = None
        self.results[self._running_tab] = results
        plots = self.lesion_plots if self._running_tab == "lesion" else self.land_plots
        plots.show_results(results)
        self._set_running(False)
        self._summarise()
        self._show("", "info")
        self.analysed.emit(results)

    def _on_files_written(self, paths: list[str]) -> None:
        self._worker = None
        self._set_running(False)
        self._show(
            f"Wrote {', '.join(Path(p).name for p in paths)} to {Path(paths[0]).parent}", "ok"
        )

    def _on_job_failed(self, exc: BaseException) -> None:
        worker, self._worker = self._worker, None
        self._set_running(False)
        if isinstance(exc, StudioError):
            self._show(str(exc), "error")
        else:  # a bug or an OS error: shown with its traceback, the window goes on
            self._show(f"Analysis failed: {exc!r}", "error")
            self.message.setToolTip(worker.traceback_text if worker is not None else "")

    def _on_job_cancelled(self) -> None:
        self._worker = None
        self._set_running(False)
        self._show("Cancelled.", "info")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.cancel()  # a closed dialog does not keep a CPU busy; the results stay
        super().closeEvent(event)
