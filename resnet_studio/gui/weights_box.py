"""The Model panel's Weights box: what is loaded, the Pretrained chooser, the buttons
that open, save, download, evaluate and export, and the progress of a weights job.

The box binds to `app.model.ModelState`: what a job loads goes to `state.set_weights`
(the choice follows the weights; the Inspection and Training panels follow the
state). Every job runs in a worker (`workers.run_in_thread`), one at a time, with a
progress bar in MiB and Cancel; core's downloads leave no partial file on cancel.

A net that ships trained (`state.wanted_shipped`) gets those weights in the
background, in a job of its own that never blocks the buttons: a user's own load
simply wins, and a default load whose moment has passed is dropped. "Random weights"
asks for a fresh initialisation instead; "Trained weights" brings them back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.model import (
    ExportedOnnx,
    ModelState,
    export_onnx_job,
    onnx_missing,
    save_weights_job,
    weights_text,
)
from resnet_studio.core.catalog import (
    SAFETENSORS_FILTER,
    SAFETENSORS_SUFFIX,
    WEIGHT_SUFFIXES,
    WEIGHTS_FILTER,
    ModelChoice,
    suffix_list,
)
from resnet_studio.core.errors import StudioError
from resnet_studio.core.weights.pretrained import get_pretrained, is_cached
from resnet_studio.core.weights.torchvision_hub import PRETRAINED_NAMES
from resnet_studio.gui import settings
from resnet_studio.gui.pretrained_chooser import PretrainedChooser
from resnet_studio.gui.widgets import show_error, status_color
from resnet_studio.gui.workers import Worker, run_in_thread

ONNX_SUFFIX = ".onnx"
ONNX_FILTER = f"ONNX models (*{ONNX_SUFFIX})"


def _load_job(name: str | None, source: str, job: Any) -> object:
    from resnet_studio.core.weights import load_weights

    return load_weights(name, source, progress=job.progress)


def _load_shipped_job(shipped: Any) -> object:
    from resnet_studio.core.weights.resolve import load_shipped

    return load_shipped(shipped)


class WeightsBox(QGroupBox):
    """The weights of the state's network and the jobs that change or use them.

    Signals:
        evaluate_requested(): "Evaluate…" was clicked (the panel opens the dialog).
    """

    evaluate_requested = Signal()

    def __init__(self, state: ModelState, parent: QWidget | None = None) -> None:
        super().__init__("Weights", parent)
        self.state = state
        self._worker: Worker | None = None
        self._default_worker: Worker | None = None  # loading the shipped weights
        self._kind = "info"  # of the status text: "error" | "ok" | "info"
        self._build()
        self.set_busy(False)
        self.state.changed.connect(self._on_model_changed)
        self.state.weights_dropped.connect(self._on_model_weights_dropped)
        self._load_wanted_shipped()

    def _build(self) -> None:
        self.status = QLabel("Random initialisation (He et al. 2015)")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.pretrained = PretrainedChooser()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(f"Load a {suffix_list(WEIGHT_SUFFIXES)} file (Ctrl+O)")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the weights as .safetensors with their metadata (Ctrl+S)")
        self.torchvision_button = QPushButton("Torchvision pretrained")
        self.evaluate_button = QPushButton("Evaluate…")
        self.evaluate_button.setToolTip("Measure top-1/top-5 of these weights on a test set, "
                                        "beside the published numbers (Ctrl+E)")  # fmt: skip
        self.export_button = QPushButton("Export ONNX…")
        self.export_button.setToolTip("Save the network with these weights as an ONNX file")
        self.random_button = QPushButton("Random weights")
        self.random_button.setToolTip("A fresh He initialisation instead of the loaded weights")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        hint = QLabel("or drop a weight file on this panel")
        hint.setEnabled(False)
        buttons = QGridLayout()
        buttons.addWidget(self.open_button, 0, 0)
        buttons.addWidget(self.save_button, 0, 1)
        buttons.addWidget(self.torchvision_button, 1, 0)
        buttons.addWidget(self.random_button, 1, 1)
        buttons.addWidget(self.evaluate_button, 2, 0)
        buttons.addWidget(self.export_button, 2, 1)
        buttons.addWidget(self.progress, 3, 0)
        buttons.addWidget(self.cancel_button, 3, 1)
        box = QVBoxLayout(self)
        box.addWidget(self.status)
        box.addWidget(self.pretrained, 1)
        box.addLayout(buttons)
        box.addWidget(hint)
        self.pretrained.load_requested.connect(self._on_pretrained_load_requested)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.torchvision_button.clicked.connect(self._on_torchvision_clicked)
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.random_button.clicked.connect(self._on_random_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

    # ------------------------------------------------------------------ public API
    def busy(self) -> bool:
        """Weights are being read, downloaded, written or exported."""
        return self._worker is not None

    def settled(self) -> bool:
        """No job running and no default weights still to come (screenshots wait for it)."""
        return self._worker is None and self._default_worker is None and self.state.wanted_shipped is None

    def show_message(self, text: str, kind: str = "info") -> None:
        """Write the status line ("error", "ok" or "info" colours)."""
        self._kind = kind
        self.apply_palette()
        self.status.setText(text)

    def apply_palette(self) -> None:
        self.status.setStyleSheet(f"color: {status_color(self._kind, self.palette()).name()};")

    def load_file(self, path: str | Path) -> None:
        """Load a weight file into the current network."""
        settings.remember_folder("weights", path)
        self._start(_load_job, self.state.choice.name, str(path), on_done=self._on_weights_loaded,
                    message=f"Reading {Path(path).name}…")  # fmt: skip

    def load_pretrained(self, name: str) -> None:
        """Download (unless cached) and load the catalog checkpoint `name`: its network,
        class names and preprocessing come with it."""
        fetching = "Reading" if is_cached(get_pretrained(name)) else "Downloading"
        self._start(_load_job, None, name, on_done=self._on_weights_loaded,
                    message=f"{fetching} {name}…")  # fmt: skip

    def save_to(self, path: str | Path) -> None:
        """Save the current weights (or a fresh initialisation) to `path`."""
        self._start(save_weights_job, self.state.choice, self.state.weights, str(path),
                    on_done=self._on_saved, message=f"Saving {Path(path).name}…")  # fmt: skip

    def export_to(self, path: str | Path) -> None:
        """Export the current network with its weights to an ONNX file at `path`."""
        self._start(export_onnx_job, self.state.choice, self.state.weights, str(path),
                    on_done=self._on_exported, message=f"Exporting {Path(path).name}…")  # fmt: skip

    def ask_open(self) -> None:
        """Ask for a weight file and load it (File > Open weights)."""
        self._on_open_clicked()

    def ask_save(self) -> None:
        """Ask for a file name and save the weights (File > Save weights)."""
        self._on_save_clicked()

    def ask_export(self) -> None:
        """Ask for an .onnx file name and export (File > Export ONNX…); without the
        optional extra, say what to install instead of asking."""
        self._on_export_clicked()

    def set_busy(self, busy: bool, message: str = "") -> None:
        """While a job runs: no second one, a progress bar, Cancel."""
        for button in (self.open_button, self.save_button, self.export_button):
            button.setEnabled(not busy)
        self.pretrained.set_busy(busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until the first report
            self.progress.setFormat("")
            self.show_message(message, "info")
        self._update_torchvision_button(self.state.choice)

    def show_progress(self, done: int, total: int) -> None:
        """Bytes read or downloaded, of `total` (0 when unknown)."""
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 2**20:.1f} of {total / 2**20:.1f} MiB")
        else:
            self.progress.setFormat(f"{done / 2**20:.1f} MiB")

    def shutdown(self) -> None:
        """Cancel the jobs, join their threads, stop following the state (window closing)."""
        for worker in (self._worker, self._default_worker):
            if worker is not None:
                worker.cancel()
                worker.join()
        self._worker = self._default_worker = None
        self.state.changed.disconnect(self._on_model_changed)
        self.state.weights_dropped.disconnect(self._on_model_weights_dropped)

    # ------------------------------------------------------------------ the state
    def _on_model_changed(self, choice: ModelChoice, weights: Any) -> None:
        self._update_torchvision_button(choice)
        self._update_random_button()
        if weights is None and self.state.random_chosen:
            self.show_message("Random initialisation (He et al. 2015), chosen instead of the "
                              "trained weights that ship for this net.", "info")  # fmt: skip
        self._load_wanted_shipped()

    def _update_random_button(self) -> None:
        if self.state.random_chosen:
            self.random_button.setText("Trained weights")
            self.random_button.setToolTip("Back to the weights resnet-studio trained for this net")
            self.random_button.setEnabled(True)
        else:
            self.random_button.setText("Random weights")
            self.random_button.setToolTip("A fresh He initialisation instead of the loaded weights")
            self.random_button.setEnabled(self.state.weights is not None
                                          or self.state.wanted_shipped is not None)  # fmt: skip

    def _load_wanted_shipped(self) -> None:
        """Load the shipped weights the state wants, unless a load of them is under way."""
        shipped = self.state.wanted_shipped
        if shipped is None or self._default_worker is not None:
            return
        self.show_message(f"Loading the trained weights ({shipped.label})…", "info")
        self._default_worker = run_in_thread(
            _load_shipped_job, shipped, on_done=self._on_shipped_loaded,
            on_error=self._on_shipped_failed, on_cancel=self._on_shipped_failed,
        )  # fmt: skip

    def _on_model_weights_dropped(self, _choice: ModelChoice) -> None:
        self.show_message("Random initialisation: the weights loaded before were for another "
                          "architecture, so they were dropped.", "info")  # fmt: skip

    def _update_torchvision_button(self, choice: ModelChoice) -> None:
        ok = choice.name in PRETRAINED_NAMES and choice.shortcut == "B" and choice.num_classes == 1000
        self.torchvision_button.setEnabled(ok and self._worker is None)
        self.torchvision_button.setToolTip(
            "Download torchvision's ImageNet weights (cached after the first time)" if ok else
            "torchvision has pretrained weights for resnet18..resnet152 (v1.5, shortcut B, "
            "1000 classes) only; the Pretrained list has every catalog checkpoint"
        )  # fmt: skip

    # ------------------------------------------------------------------ jobs
    def _start(self, fn: Any, *args: Any, on_done: Any, message: str) -> None:
        if self._worker is not None:
            self.show_message("Still busy with the previous weights; cancel it first.", "error")
            return
        self._worker = run_in_thread(
            fn, *args, on_done=on_done, on_error=self._on_job_failed,
            on_progress=self.show_progress, on_cancel=self._on_job_cancelled,
        )  # fmt: skip
        self.set_busy(True, message)

    def _finished(self) -> None:
        self._worker = None
        self.set_busy(False)
        self.pretrained.refresh_cached()  # a download may have landed

    def _on_weights_loaded(self, result: Any) -> None:
        self._finished()
        self.state.set_weights(result)  # the choice becomes theirs; the chooser follows
        self.show_message(weights_text(result), "ok")

    def _on_shipped_loaded(self, result: Any) -> None:
        self._default_worker = None
        if self.state.wanted_shipped != result.shipped:  # another net, or random, meanwhile
            self._load_wanted_shipped()
            return
        self.state.set_weights(result)
        self.show_message(f"{result.shipped.label}.\n{weights_text(result)}", "ok")

    def _on_shipped_failed(self, exc: BaseException | None = None) -> None:
        self._default_worker = None
        if exc is not None:  # a damaged installation: random weights, and say so
            self.show_message(f"The trained weights that ship with resnet-studio could not be "
                              f"read ({exc}); using random weights.", "error")  # fmt: skip

    def _on_saved(self, path: str) -> None:
        self._finished()
        self.show_message(f"Saved to {path}", "ok")

    def _on_exported(self, exported: ExportedOnnx) -> None:
        self._finished()
        size = exported.input_size
        check = ("" if exported.max_difference is None else
                 f"; onnxruntime matches torch to {exported.max_difference:.1e}")  # fmt: skip
        self.show_message(f"Exported ONNX to {exported.path} (input [batch, 3, {size}, {size}], "
                          f"normalised{check})", "ok")  # fmt: skip

    def _on_job_failed(self, exc: BaseException) -> None:
        worker = self._worker
        self._finished()
        if isinstance(exc, StudioError):  # offline, a bad file: core's message says what to do
            self.show_message(str(exc), "error")
        else:  # a bug or an OS error: say so, with the traceback behind "Show Details"
            self.show_message(f"Failed: {exc}", "error")
            details = worker.traceback_text if worker is not None else ""
            show_error(self, "Weights", f"Unexpected error: {exc}", details)

    def _on_job_cancelled(self) -> None:
        self._finished()
        self.show_message("Cancelled; the model was not changed.", "info")

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_pretrained_load_requested(self, name: str) -> None:
        self.load_pretrained(name)

    @Slot()
    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open weights", settings.last_folder("weights"),
                                              WEIGHTS_FILTER)  # fmt: skip
        if path:
            self.load_file(path)

    @Slot()
    def _on_save_clicked(self) -> None:
        start = str(Path(settings.last_folder("weights")) / f"{self.state.choice.name}{SAFETENSORS_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save weights", start, SAFETENSORS_FILTER)
        if not path:
            return
        if not path.endswith(SAFETENSORS_SUFFIX):
            path += SAFETENSORS_SUFFIX
        settings.remember_folder("weights", path)
        self.save_to(path)

    @Slot()
    def _on_export_clicked(self) -> None:
        missing = onnx_missing()
        if missing is not None:
            self.show_message(missing, "error")
            return
        start = str(Path(settings.last_folder("export")) / f"{self.state.choice.name}{ONNX_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Export ONNX", start, ONNX_FILTER)
        if not path:
            return
        if not path.endswith(ONNX_SUFFIX):
            path += ONNX_SUFFIX
        settings.remember_folder("export", path)
        self.export_to(path)

    @Slot()
    def _on_torchvision_clicked(self) -> None:
        self._start(_load_job, self.state.choice.name, "torchvision", on_done=self._on_weights_loaded,
                    message="Downloading torchvision weights…")  # fmt: skip

    @Slot()
    def _on_random_clicked(self) -> None:
        if self.state.random_chosen:
            self.state.use_shipped()  # the changed handler starts the load
        else:
            self.state.clear_weights()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
