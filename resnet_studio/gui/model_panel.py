"""The Model panel: choose a network, see what it is, load and save its weights.

Everything slow runs in workers (`workers.run_in_thread`): `model_info` (up to a few
seconds for cifar-resnet1202), reading weight files and torchvision downloads. Only
one info job runs at a time; a newer choice waits as "pending" and supersedes any
older pending one, so spinning the depth box never piles up threads.

Other panels use `choice()`, `weights()`, `build_model()` and the `model_changed`
signal; they never reach into the widgets.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.errors import StudioError
from resnet_studio.gui import settings
from resnet_studio.gui.model_choice import ModelChoice, ModelChooser
from resnet_studio.gui.model_view import LayerTree, ModelSummary, StageTable, describe
from resnet_studio.gui.widgets import flops_text, format_int, show_error, status_color
from resnet_studio.gui.workers import Worker, run_in_thread

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
OPEN_FILTER = "Weight files (*.safetensors *.pth *.pt *.ckpt *.bin);;All files (*)"
TORCHVISION_NAMES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
INFO_DELAY_MS = 150  # let a spin box or typing settle before measuring


def _load_job(name: str, source: str, job) -> object:
    from resnet_studio.core.weights import load_weights

    return load_weights(name, source, progress=job.progress)


def _save_job(model_source, choice: ModelChoice, class_names, path: str) -> str:
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import save_weights

    model = model_source or create_model(choice.name, choice.num_classes, shortcut=choice.shortcut)
    meta = {"model": choice.name, "num_classes": choice.num_classes}
    if choice.shortcut:
        meta["shortcut"] = choice.shortcut
    if class_names:
        meta["class_names"] = list(class_names)
    return str(save_weights(model, path, meta))


def weight_paths(urls) -> list[Path]:
    """Local files among dropped URLs that have a weight-file suffix."""
    paths = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
    return [p for p in paths if p.suffix.lower() in WEIGHT_SUFFIXES]


class ModelPanel(QWidget):
    """Choose a ResNet of the zoo, inspect its stages and modules, load/save weights.

    Signals:
        model_changed(name, options): the choice changed, or weights were loaded or
            dropped; options = {"num_classes", "shortcut", "weights"} where weights is
            the source of loaded weights or None (random initialisation).
        summary_shown(name): the stage table and tree now describe `name`.
    """

    model_changed = Signal(str, dict)
    summary_shown = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._summary: ModelSummary | None = None
        self._info_worker: Worker | None = None
        self._pending: ModelChoice | None = None
        self._weights = None  # core LoadResult
        self._weights_choice: ModelChoice | None = None
        self._weights_worker: Worker | None = None
        self._info_timer = QTimer(self, singleShot=True, interval=INFO_DELAY_MS)
        self._info_timer.timeout.connect(self._on_info_timer_timeout)
        self._build()
        self._on_choice_changed(self.chooser.choice())

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.chooser = ModelChooser()
        network = QGroupBox("Network")
        QVBoxLayout(network).addWidget(self.chooser)

        self.weights_box = QGroupBox("Weights")
        self.weights_status = QLabel("Random initialisation (He et al. 2015)")
        self.weights_status.setWordWrap(True)
        self.weights_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.weights_status.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Load a .safetensors, .pth, .pt, .ckpt or .bin file (Ctrl+O)")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the weights as .safetensors with their metadata (Ctrl+S)")
        self.torchvision_button = QPushButton("Torchvision pretrained")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        hint = QLabel("or drop a weight file on this panel")
        hint.setEnabled(False)
        buttons = QGridLayout()
        buttons.addWidget(self.open_button, 0, 0)
        buttons.addWidget(self.save_button, 0, 1)
        buttons.addWidget(self.torchvision_button, 1, 0, 1, 2)
        buttons.addWidget(self.progress, 2, 0)
        buttons.addWidget(self.cancel_button, 2, 1)
        box = QVBoxLayout(self.weights_box)
        box.addWidget(self.weights_status)
        box.addLayout(buttons)
        box.addWidget(hint)
        self._set_busy(False)

        left = QVBoxLayout()
        left.addWidget(network)
        left.addWidget(self.weights_box)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setFixedWidth(340)
        left.setContentsMargins(0, 0, 0, 0)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.params_label = QLabel("…")
        self.flops_label = QLabel("…")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        numbers = QHBoxLayout()
        self.flops_caption = QLabel("GFLOPs (multiply-adds)")
        numbers.addWidget(self._figure(QLabel("Parameters"), self.params_label))
        numbers.addWidget(self._figure(self.flops_caption, self.flops_label))
        numbers.addStretch(1)
        self.stage_table = StageTable()
        self.layer_tree = LayerTree()
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(numbers)
        right.addWidget(self.error_label)
        right.addWidget(self._caption("Stages (as in Table 1 of the paper)"))
        right.addWidget(self.stage_table)
        right.addWidget(self._caption("Modules"))
        right.addWidget(self.layer_tree, 1)
        right.setContentsMargins(0, 0, 0, 0)

        self.drop_frame = QFrame()  # draws the drag-over highlight around the panel
        self.drop_frame.setObjectName("dropFrame")
        outer = QHBoxLayout(self.drop_frame)
        outer.addWidget(left_widget)
        outer.addLayout(right, 1)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addWidget(self.drop_frame)

        self.chooser.choice_changed.connect(self._on_choice_changed)
        self.chooser.invalid.connect(self._on_choice_invalid)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.torchvision_button.clicked.connect(self._on_torchvision_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

    def _caption(self, text: str) -> QLabel:
        label = QLabel(f"<b>{text}</b>")
        label.setContentsMargins(0, 6, 0, 0)
        return label

    def _figure(self, small: QLabel, value: QLabel) -> QWidget:
        """A big number with a small caption under it."""
        font = value.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        value.setFont(font)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        small.setEnabled(False)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 24, 4)
        layout.setSpacing(0)
        layout.addWidget(value)
        layout.addWidget(small)
        return box

    # ------------------------------------------------------------------ public API
    def choice(self) -> ModelChoice:
        """The network the controls describe (name, num_classes, shortcut)."""
        return self.chooser.choice()

    def weights(self):
        """The core LoadResult of the weights loaded for the current choice, or None."""
        return self._weights

    def build_model(self):
        """A model for the current choice: the loaded one (shared, not a copy) if weights
        are loaded, else a freshly initialised one. Fine to call from a worker thread
        with values read beforehand in the GUI thread via `choice()`/`weights()`."""
        if self._weights is not None:
            return self._weights.model
        from resnet_studio.core.models import create_model

        choice = self.choice()
        return create_model(choice.name, choice.num_classes, shortcut=choice.shortcut)

    def model_info(self):
        """core's ModelInfo of the network shown, or None before the first measurement."""
        return self._summary.info if self._summary else None

    def is_ready(self) -> bool:
        """The shown summary matches the controls and no measurement is under way."""
        return (
            self._summary is not None
            and self._summary.choice == self.choice()
            and self._info_worker is None
            and self._pending is None
            and not self._info_timer.isActive()
        )

    def busy(self) -> bool:
        """Weights are being read, downloaded or written."""
        return self._weights_worker is not None

    def open_weights(self) -> None:
        """Ask for a weight file and load it (File > Open weights)."""
        self._on_open_clicked()

    def save_weights(self) -> None:
        """Ask for a file name and save the current weights (File > Save weights)."""
        self._on_save_clicked()

    def load_weights_file(self, path: str | Path) -> None:
        """Load a weight file into the current network, in a worker."""
        settings.remember_folder("weights", path)
        self._start_weights_job(_load_job, self.choice().name, str(path),
                                message=f"Reading {Path(path).name}…")  # fmt: skip

    def shutdown(self) -> None:
        """Stop this panel's jobs and wait for their threads (window closing)."""
        self._info_timer.stop()
        self._pending = None
        for worker in (self._info_worker, self._weights_worker):
            if worker is not None:
                worker.cancel()
                worker.join()
        self._info_worker = self._weights_worker = None

    # ------------------------------------------------------------------ model info
    @Slot(object)
    def _on_choice_changed(self, choice: ModelChoice) -> None:
        self.error_label.hide()
        self.title.setText(f"<b style='font-size:14pt'>{choice.name}</b>&nbsp;&nbsp;measuring…")
        if self._weights is not None and choice != self._weights_choice:
            self._weights, self._weights_choice = None, None
            self._show_weights_message("Random initialisation: the weights loaded before were "
                                       "for another architecture, so they were dropped.", "info")  # fmt: skip
        self._update_torchvision_button(choice)
        self._pending = choice
        self._info_timer.start()
        self.model_changed.emit(choice.name, self._options(choice))

    @Slot(str)
    def _on_choice_invalid(self, message: str) -> None:
        self._show_error(message)

    @Slot()
    def _on_info_timer_timeout(self) -> None:
        if self._info_worker is None and self._pending is not None:
            choice, self._pending = self._pending, None
            self._info_worker = run_in_thread(
                describe, choice, on_done=self._on_info_finished, on_error=self._on_info_failed
            )

    def _on_info_finished(self, summary: ModelSummary) -> None:
        self._info_worker = None
        if self._pending is not None:  # superseded: measure the newer choice instead
            self._on_info_timer_timeout()
            return
        if summary.choice == self.choice():
            self._show_summary(summary)

    def _on_info_failed(self, exc: BaseException) -> None:
        self._info_worker = None
        if self._pending is not None:
            self._on_info_timer_timeout()
            return
        self._show_error(str(exc) if isinstance(exc, StudioError) else f"Could not measure: {exc!r}")

    def _show_summary(self, summary: ModelSummary) -> None:
        info = summary.info
        self._summary = summary
        block = "bottleneck" if info.block == "bottleneck" else "basic"
        shortcut = "plain (no shortcuts)" if info.plain else f"shortcut option {info.shortcut}"
        self.title.setText(
            f"<b style='font-size:14pt'>{info.name}</b>&nbsp;&nbsp;{info.family_label} · "
            f"{info.depth} layers · {block} blocks · {shortcut} · {info.num_classes:,} classes · "
            f"input {info.input_size}×{info.input_size}"
        )
        self.params_label.setText(format_int(info.params))
        value, unit = flops_text(info.macs)
        self.flops_label.setText(value)
        self.flops_caption.setText(f"{unit} (multiply-adds at {info.input_size}×{info.input_size})")
        self.stage_table.show_info(info)
        self.stage_table.setFixedHeight(self._table_height())
        self.layer_tree.show_tree(summary.tree)
        self.error_label.hide()
        self.summary_shown.emit(info.name)

    def _table_height(self) -> int:
        table = self.stage_table
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        return rows + table.horizontalHeader().height() + 2 * table.frameWidth() + 2

    def _show_error(self, message: str) -> None:
        color = status_color("error", self.palette()).name()
        self.error_label.setStyleSheet(f"color: {color};")
        self.error_label.setText(message)
        self.error_label.show()

    # ------------------------------------------------------------------ weights
    def _options(self, choice: ModelChoice) -> dict:
        source = self._weights.source if self._weights is not None else None
        return choice.options() | {"weights": source}

    def _update_torchvision_button(self, choice: ModelChoice) -> None:
        ok = choice.name in TORCHVISION_NAMES and choice.shortcut == "B" and choice.num_classes == 1000
        self.torchvision_button.setEnabled(ok and self._weights_worker is None)
        self.torchvision_button.setToolTip(
            "Download torchvision's ImageNet weights (cached after the first time)" if ok else
            "torchvision has pretrained weights for resnet18..resnet152 (v1.5, shortcut B, "
            "1000 classes) only"
        )  # fmt: skip

    def _set_busy(self, busy: bool, message: str = "") -> None:
        for button in (self.open_button, self.save_button):
            button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until the first report
            self._show_weights_message(message, "info")
        if hasattr(self, "chooser"):
            self._update_torchvision_button(self.choice())

    def _start_weights_job(self, fn, *args, message: str) -> None:
        if self._weights_worker is not None:
            self._show_weights_message("Still busy with the previous weights; cancel it first.", "error")
            return
        self._weights_worker = run_in_thread(
            fn, *args, on_done=self._on_weights_finished, on_error=self._on_weights_failed,
            on_progress=self._on_weights_progressed, on_cancel=self._on_weights_cancelled,
        )  # fmt: skip
        self._set_busy(True, message)

    def _on_weights_progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 2**20:.1f} of {total / 2**20:.1f} MiB")
        else:
            self.progress.setFormat(f"{done / 2**20:.1f} MiB")

    def _on_weights_finished(self, result: object) -> None:
        self._weights_worker = None
        self._set_busy(False)
        if isinstance(result, str):  # a save job returns the path written
            self._show_weights_message(f"Saved to {result}", "ok")
            return
        self._weights = result
        fc = getattr(result.model, "fc", None)
        classes = fc.out_features if fc is not None else self.choice().num_classes
        name = result.model_name or self.choice().name
        self._weights_choice = ModelChoice(name, classes, self.choice().shortcut)
        self.chooser.set_choice(self._weights_choice)  # keeps the weights: same choice
        self._show_weights_message(self._describe_weights(result), "ok")
        self.model_changed.emit(self.choice().name, self._options(self.choice()))

    def _on_weights_failed(self, exc: BaseException) -> None:
        worker, self._weights_worker = self._weights_worker, None
        self._set_busy(False)
        if isinstance(exc, StudioError):
            self._show_weights_message(str(exc), "error")
        else:  # a bug or an OS error: say so, with the traceback behind "Show Details"
            self._show_weights_message(f"Failed: {exc}", "error")
            details = worker.traceback_text if worker is not None else ""
            show_error(self, "Weights", f"Unexpected error: {exc}", details)

    def _on_weights_cancelled(self) -> None:
        self._weights_worker = None
        self._set_busy(False)
        self._show_weights_message("Cancelled; the model was not changed.", "info")

    def _describe_weights(self, result) -> str:
        lines = [f"Loaded {result.format} weights from {Path(result.source).name or result.source}: "
                 f"{result.matched_keys:,} tensors matched."]  # fmt: skip
        names = result.class_names or []
        if names:
            first = ", ".join(names[:4])
            guessed = " (guessed from the head size)" if result.class_names_guessed else ""
            lines.append(f"{len(names):,} classes{guessed}: {first}{', …' if len(names) > 4 else ''}")
        else:
            lines.append("No class names in the file.")
        lines += list(result.notes)
        return "\n".join(lines)

    def _show_weights_message(self, text: str, kind: str) -> None:
        self.weights_status.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.weights_status.setText(text)

    @Slot()
    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open weights", settings.last_folder("weights"), OPEN_FILTER
        )
        if path:
            self.load_weights_file(path)

    @Slot()
    def _on_save_clicked(self) -> None:
        choice = self.choice()
        start = str(Path(settings.last_folder("weights")) / f"{choice.name}.safetensors")
        path, _ = QFileDialog.getSaveFileName(self, "Save weights", start,
                                              "safetensors (*.safetensors)")  # fmt: skip
        if not path:
            return
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        settings.remember_folder("weights", path)
        self.save_weights_to(path)

    def save_weights_to(self, path: str | Path) -> None:
        """Save the current weights (or a fresh initialisation) to `path` in a worker."""
        weights = self._weights
        model = weights.model if weights is not None else None
        names = weights.class_names if weights is not None else None
        self._start_weights_job(_save_job, model, self.choice(), names, str(path),
                                message=f"Saving {Path(path).name}…")  # fmt: skip

    @Slot()
    def _on_torchvision_clicked(self) -> None:
        self._start_weights_job(_load_job, self.choice().name, "torchvision",
                                message="Downloading torchvision weights…")  # fmt: skip

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self._weights_worker is not None:
            self._weights_worker.cancel()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        paths = weight_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if paths and self._weights_worker is None:
            event.acceptProposedAction()
            self._set_drop_highlight(True)
            self._show_weights_message(f"Drop to load {paths[0].name}", "info")
        else:
            event.ignore()
            self._show_weights_message(
                "Not a weight file: drop a " + ", ".join(WEIGHT_SUFFIXES) + " file.", "error"
            )

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        paths = weight_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if not paths:
            event.ignore()
            self._show_weights_message("Not a weight file; nothing was loaded.", "error")
            return
        event.acceptProposedAction()
        self.load_weights_file(paths[0])

    def _set_drop_highlight(self, on: bool) -> None:
        if on:
            color = self.palette().color(QPalette.ColorRole.Highlight).name()
            self.drop_frame.setStyleSheet(f"#dropFrame {{ border: 2px dashed {color}; border-radius: 6px; }}")
        else:
            self.drop_frame.setStyleSheet("")
