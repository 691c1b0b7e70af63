"""The Evaluate… dialog: the Model panel's network, with its loaded weights, on a test
set, beside the published numbers.

It asks for a dataset (a zip file, a folder, or CIFAR-10/100 with their data root;
the last folder is remembered in `gui/settings`), a batch size and an optional image
limit; it runs `app.evaluation.EvaluationJob` in a worker with progress and Cancel,
then shows measured top-1/top-5 against the published top-1 with the difference and
the result's notes (the lines `resnet-studio eval` prints), per-class accuracy and
the confusion matrix. Errors (classes that do not match, a missing dataset) are shown
here; the dialog never dies with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
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

from resnet_studio.app.evaluation import (
    EvaluationCancelled,
    EvaluationJob,
    EvaluationRequest,
    fraction,
    progress_text,
    summary_lines,
)
from resnet_studio.app.evaluation_form import (
    CIFAR_KINDS,
    DATASET_KINDS,
    DatasetChoice,
    evaluation_request,
    headline,
    loaded_for_evaluation,
    weights_warning,
)
from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.errors import StudioError
from resnet_studio.gui import settings
from resnet_studio.gui.evaluation_views import ConfusionView, PerClassTable
from resnet_studio.gui.widgets import big_figure, status_color
from resnet_studio.gui.workers import Cancelled, JobControl, Worker, run_in_thread

FOLDER_KEY = "evaluation"  # gui/settings' last-folder key of this dialog
ZIP_FILTER = "Zip archives of images (*.zip)"


def run_evaluation(request: EvaluationRequest, choice: ModelChoice, weights: Any,
                   job: JobControl) -> Any:  # fmt: skip
    """The worker's job: the window's weights (a copy) through `EvaluationJob`; every
    event goes through `job.progress`, which raises `Cancelled` after Cancel."""
    loaded = loaded_for_evaluation(choice, weights)
    job.check()
    try:
        return EvaluationJob(request, loaded=loaded).run(on_event=job.progress)
    except EvaluationCancelled:
        raise Cancelled from None


def write_report_job(result: Any, folder: str) -> list[str]:
    from resnet_studio.core.evaluation import write_report

    return [str(path) for path in write_report(result, folder).values()]


class EvaluationDialog(QDialog):
    """Signals: `evaluated(result)` when an evaluation finished (core EvaluationResult).

    `result` is the last EvaluationResult shown (None before the first)."""

    evaluated = Signal(object)

    def __init__(self, state: ModelState, parent: QWidget | None = None, *, persist: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate")
        self.state = state
        self.result: Any = None
        self._persist = persist
        self._worker: Worker | None = None
        self._kinds: dict[QLabel, str] = {}
        self._build()
        self.state.changed.connect(self._on_model_changed)
        self._on_model_changed(state.choice, state.weights)
        self._set_running(False)
        self.resize(760, 720)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.kind_box = QComboBox()
        for kind, label in DATASET_KINDS:
            self.kind_box.addItem(label, kind)
        self.path_edit = QLineEdit()
        self.browse_button = QPushButton("Browse…")
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        self.batch_box = QSpinBox(minimum=1, maximum=8192, value=256)
        self.limit_box = QSpinBox(minimum=0, maximum=10_000_000, value=0, singleStep=100)
        self.limit_box.setSpecialValueText("all images")
        self.limit_box.setToolTip("Evaluate this many images, spread over every class (0: all)")
        form = QFormLayout()
        form.addRow("Dataset", self.kind_box)
        self.path_caption = QLabel("File")
        form.addRow(self.path_caption, path_row)
        form.addRow("Batch size", self.batch_box)
        form.addRow("Images", self.limit_box)

        self.run_button = QPushButton("Evaluate")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.cancel_button)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.top1_label, self.published_label, self.top5_label = QLabel("—"), QLabel("—"), QLabel("—")
        figures = QHBoxLayout()
        figures.addWidget(big_figure(QLabel("top-1 measured"), self.top1_label))
        figures.addWidget(big_figure(QLabel("top-1 published (difference)"), self.published_label))
        self.top5_caption = QLabel("top-5 measured")
        figures.addWidget(big_figure(self.top5_caption, self.top5_label))
        figures.addStretch(1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.per_class = PerClassTable()
        self.confusion = ConfusionView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.per_class, "Per class")
        self.tabs.addTab(self.confusion, "Confusion matrix (rows: true, columns: predicted)")
        self.save_button = QPushButton("Save report…")
        self.save_button.setToolTip("Write eval.json, per_class.csv, confusion.csv and confusion.png")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addWidget(self.warning_label)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.message)
        layout.addLayout(figures)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)

        self.kind_box.currentIndexChanged.connect(self._on_kind_changed)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        buttons.rejected.connect(self.close)
        self._on_kind_changed()

    # ------------------------------------------------------------------ public API
    def dataset(self) -> DatasetChoice:
        """The dataset the form names."""
        return DatasetChoice(self.kind_box.currentData(), self.path_edit.text())

    def set_dataset(self, dataset: DatasetChoice) -> None:
        """Fill the form with `dataset` (as Browse… would)."""
        self.kind_box.setCurrentIndex(self.kind_box.findData(dataset.kind))
        self.path_edit.setText(dataset.path)

    def start(self) -> bool:
        """Evaluate with the form's settings in a worker; False (and a message) when
        the form is incomplete or an evaluation already runs."""
        if self._worker is not None:
            return False
        try:
            request = evaluation_request(self.state, self.dataset(), batch_size=self.batch_box.value(),
                                         limit=self.limit_box.value())  # fmt: skip
        except StudioError as exc:
            self._show(self.message, str(exc), "error")
            return False
        if self._persist and request.dataset.partition(":")[2]:
            settings.remember_folder(FOLDER_KEY, request.dataset.partition(":")[2])
        self._worker = run_in_thread(
            run_evaluation, request, self.state.choice, self.state.weights,
            on_done=self._on_job_finished, on_error=self._on_job_failed,
            on_progress=self._on_job_progressed, on_cancel=self._on_job_cancelled,
        )  # fmt: skip
        self._set_running(True)
        self._show(self.message, f"Evaluating {self.state.choice.name} on {request.dataset}…", "info")
        return True

    def running(self) -> bool:
        return self._worker is not None

    def cancel(self) -> None:
        """Stop at the next batch (or download chunk); nothing changes."""
        if self._worker is not None:
            self._worker.cancel()

    def save_report_to(self, folder: str | Path) -> None:
        """Write the shown result's report files into `folder`, in a worker."""
        if self.result is None or self._worker is not None:
            return
        self._worker = run_in_thread(write_report_job, self.result, str(folder),
                                     on_done=self._on_report_written, on_error=self._on_job_failed)  # fmt: skip
        self._set_running(True)
        self._show(self.message, f"Writing the report to {folder}…", "info")

    def shutdown(self) -> None:
        """Cancel the job, join its thread and stop following the state (panel closing)."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker.join()
            self._worker = None
        self.state.changed.disconnect(self._on_model_changed)
        self.close()

    def apply_palette(self) -> None:
        for label, kind in self._kinds.items():
            label.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.confusion.apply_palette()

    # ------------------------------------------------------------------ drawing
    def _show(self, label: QLabel, text: str, kind: str) -> None:
        self._kinds[label] = kind
        label.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        label.setText(text)
        label.setVisible(bool(text))

    def _set_running(self, running: bool) -> None:
        for widget in (self.run_button, self.kind_box, self.path_edit, self.browse_button,
                       self.batch_box, self.limit_box):  # fmt: skip
            widget.setEnabled(not running)
        self.save_button.setEnabled(not running and self.result is not None)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat("starting…")

    def _show_result(self, result: Any) -> None:
        measured, published = headline(result)
        self.top1_label.setText(measured)
        self.published_label.setText(published)
        self.top5_caption.setText(f"top-{result.k} measured")
        self.top5_label.setText(f"{result.top5:.2f} %")
        self.summary.setText("\n".join(summary_lines(result)))  # as `resnet-studio eval` prints
        self.per_class.show_result(result)
        self.confusion.show_result(result)

    # ------------------------------------------------------------------ slots
    def _on_model_changed(self, choice: ModelChoice, weights: Any) -> None:
        if weights is None:
            source = "random initialisation"
        else:
            source = weights.pretrained.name if weights.pretrained is not None else Path(str(weights.source)).name
        self.model_label.setText(f"<b>{choice.name}</b> with {source} (the Model panel's network)")
        self._show(self.warning_label, weights_warning(self.state) or "", "error")

    @Slot()
    def _on_kind_changed(self) -> None:
        kind = self.kind_box.currentData()
        if kind in CIFAR_KINDS:
            self.path_caption.setText("Data root")
            self.path_edit.setPlaceholderText("default data folder (downloaded there if missing)")
        else:
            self.path_caption.setText("Zip file" if kind == "zip" else "Folder")
            self.path_edit.setPlaceholderText("test images in <class>/ folders (or test/<class>/)")

    @Slot()
    def _on_browse_clicked(self) -> None:
        start = settings.last_folder(FOLDER_KEY)
        if self.kind_box.currentData() == "zip":
            path, _ = QFileDialog.getOpenFileName(self, "Test set (zip)", start, ZIP_FILTER)
        else:
            path = QFileDialog.getExistingDirectory(self, "Test set folder", start)
        if path:
            self.path_edit.setText(path)
            if self._persist:
                settings.remember_folder(FOLDER_KEY, path)

    @Slot()
    def _on_run_clicked(self) -> None:
        self.start()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.cancel()

    @Slot()
    def _on_save_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save report to", settings.last_folder("reports"))
        if folder:
            if self._persist:
                settings.remember_folder("reports", folder)
            self.save_report_to(folder)

    def _on_job_progressed(self, event: Any) -> None:
        share = fraction(event)
        if share is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * share))
        self.progress.setFormat(progress_text(event))

    def _on_job_finished(self, result: Any) -> None:
        self._worker = None
        self.result = result
        self._set_running(False)
        self._show_result(result)
        self._show(self.message, "", "info")
        self.evaluated.emit(result)

    def _on_report_written(self, paths: list[str]) -> None:
        self._worker = None
        self._set_running(False)
        folder = Path(paths[0]).parent if paths else ""
        self._show(self.message, f"Wrote {', '.join(Path(p).name for p in paths)} to {folder}", "ok")

    def _on_job_failed(self, exc: BaseException) -> None:
        worker, self._worker = self._worker, None
        self._set_running(False)
        if isinstance(exc, StudioError):  # core's message says what happened and what to do
            self._show(self.message, str(exc), "error")
        else:  # a bug or an OS error: shown here with its traceback, the window goes on
            self._show(self.message, f"Evaluation failed: {exc!r}", "error")
            self.message.setToolTip(worker.traceback_text if worker is not None else "")

    def _on_job_cancelled(self) -> None:
        self._worker = None
        self._set_running(False)
        self._show(self.message, "Cancelled.", "info")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.cancel()  # a closed dialog does not keep a CPU busy; the result stays
        super().closeEvent(event)
