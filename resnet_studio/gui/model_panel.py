"""The Model panel: choose a network, see what it is, load and save its weights.

The panel draws `app.model.ModelState` (the choice and the loaded weights) and
forwards clicks to it: the chooser's controls call `state.set_choice`, loaded weights
`state.set_weights`; the Inspection and Training panels follow `state.changed`, never
this widget.

Everything slow runs in workers (`workers.run_in_thread`): `describe` (up to a few
seconds for cifar-resnet1202), reading weight files and torchvision downloads. Only
one description job runs at a time; a newer choice waits as "pending" and supersedes
any older pending one, so spinning the depth box never piles up threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.model import ModelSummary, describe, save_weights_job, weights_text
from resnet_studio.core.catalog import (
    SAFETENSORS_FILTER,
    SAFETENSORS_SUFFIX,
    WEIGHT_SUFFIXES,
    WEIGHTS_FILTER,
    ModelChoice,
    is_weight_file,
    suffix_list,
)
from resnet_studio.core.errors import StudioError
from resnet_studio.core.weights.torchvision_hub import PRETRAINED_NAMES
from resnet_studio.gui import settings
from resnet_studio.gui.model_choice import ModelChooser
from resnet_studio.gui.model_view import LayerTree, StageTable, WeightsBox
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.widgets import (
    big_figure,
    bold_caption,
    flops_text,
    format_int,
    show_error,
    status_color,
)
from resnet_studio.gui.workers import Worker, run_in_thread

INFO_DELAY_MS = 150  # let a spin box or typing settle before measuring


def _load_job(name: str, source: str, job: Any) -> object:
    from resnet_studio.core.weights import load_weights

    return load_weights(name, source, progress=job.progress)


def weight_paths(urls: Any) -> list[Path]:
    """Local files among dropped URLs that have a weight-file suffix."""
    paths = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
    return [p for p in paths if is_weight_file(p)]


class ModelPanel(QWidget):
    """Choose a ResNet of the zoo, inspect its stages and modules, load/save weights.

    Signals:
        summary_shown(name): the stage table and tree now describe `name`.
    """

    TITLE = "Model"
    summary_shown = Signal(str)

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.state = context.model
        self._summary: ModelSummary | None = None
        self._info_worker: Worker | None = None
        self._pending: ModelChoice | None = None
        self._weights_worker: Worker | None = None
        self._message_kinds: dict[QLabel, str] = {}  # label -> "error" | "ok" | "info"
        self._info_timer = QTimer(self, singleShot=True, interval=INFO_DELAY_MS)
        self._info_timer.timeout.connect(self._on_info_timer_timeout)
        self._build()
        self.state.changed.connect(self._on_model_changed)
        self.state.weights_dropped.connect(self._on_model_weights_dropped)
        self.chooser.set_choice(self.state.choice)  # the controls show the state's network
        self._on_model_changed(self.state.choice, self.state.weights)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.chooser = ModelChooser()
        network = QGroupBox("Network")
        QVBoxLayout(network).addWidget(self.chooser)

        self.weights_box = WeightsBox()
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
        numbers.addWidget(big_figure(QLabel("Parameters"), self.params_label))
        numbers.addWidget(big_figure(self.flops_caption, self.flops_label))
        numbers.addStretch(1)
        self.stage_table = StageTable()
        self.layer_tree = LayerTree()
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addLayout(numbers)
        right.addWidget(self.error_label)
        right.addWidget(bold_caption("Stages (as in Table 1 of the paper)"))
        right.addWidget(self.stage_table)
        right.addWidget(bold_caption("Modules"))
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

        self.chooser.choice_changed.connect(self._on_chooser_choice_changed)
        self.chooser.invalid.connect(self._on_chooser_invalid)
        box = self.weights_box
        box.open_button.clicked.connect(self._on_open_clicked)
        box.save_button.clicked.connect(self._on_save_clicked)
        box.torchvision_button.clicked.connect(self._on_torchvision_clicked)
        box.cancel_button.clicked.connect(self._on_cancel_clicked)

    # ------------------------------------------------------------------ Panel protocol
    def is_ready(self) -> bool:
        """The shown summary matches the state's choice and no measurement is under way."""
        return (
            self._summary is not None
            and self._summary.choice == self.state.choice
            and self._info_worker is None
            and self._pending is None
            and not self._info_timer.isActive()
        )

    def confirm_close(self) -> bool:
        return True  # nothing here is lost by closing (a weights job is cancelled)

    def shutdown(self) -> None:
        """Stop this panel's jobs and wait for their threads (window closing)."""
        self._info_timer.stop()
        self._pending = None
        for worker in (self._info_worker, self._weights_worker):
            if worker is not None:
                worker.cancel()
                worker.join()
        self._info_worker = self._weights_worker = None
        self.state.changed.disconnect(self._on_model_changed)
        self.state.weights_dropped.disconnect(self._on_model_weights_dropped)

    def apply_palette(self) -> None:
        """Re-colour the status texts for the new light/dark palette."""
        for label, kind in self._message_kinds.items():
            label.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")

    # ------------------------------------------------------------------ public API
    def summary(self) -> ModelSummary | None:
        """What the stage table and the tree describe, or None before the first one."""
        return self._summary

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
        self._start_weights_job(_load_job, self.state.choice.name, str(path),
                                message=f"Reading {Path(path).name}…")  # fmt: skip

    def save_weights_to(self, path: str | Path) -> None:
        """Save the current weights (or a fresh initialisation) to `path` in a worker."""
        self._start_weights_job(save_weights_job, self.state.choice, self.state.weights, str(path),
                                message=f"Saving {Path(path).name}…")  # fmt: skip

    # ------------------------------------------------------------------ the state
    @Slot(object)
    def _on_chooser_choice_changed(self, choice: ModelChoice) -> None:
        self.error_label.hide()
        self.state.set_choice(choice)

    @Slot(str)
    def _on_chooser_invalid(self, message: str) -> None:
        self._show_error(message)

    def _on_model_changed(self, choice: ModelChoice, _weights: Any) -> None:
        if self.chooser.choice() != choice:  # e.g. weights loaded for another network
            self.chooser.set_choice(choice)
        self._update_torchvision_button(choice)
        if self._summary is not None and self._summary.choice == choice and self._pending is None:
            return  # only the weights changed: the description stands
        self.error_label.hide()
        self.title.setText(f"<b style='font-size:14pt'>{choice.name}</b>&nbsp;&nbsp;measuring…")
        self._pending = choice
        self._info_timer.start()

    def _on_model_weights_dropped(self, _choice: ModelChoice) -> None:
        self._show_message(self.weights_box.status, "Random initialisation: the weights loaded before "
                           "were for another architecture, so they were dropped.", "info")  # fmt: skip

    # ------------------------------------------------------------------ description
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
        if summary.choice == self.state.choice:
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
        self._show_message(self.error_label, message, "error")
        self.error_label.show()

    def _show_message(self, label: QLabel, text: str, kind: str) -> None:
        self._message_kinds[label] = kind
        label.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        label.setText(text)

    # ------------------------------------------------------------------ weights
    def _update_torchvision_button(self, choice: ModelChoice) -> None:
        ok = choice.name in PRETRAINED_NAMES and choice.shortcut == "B" and choice.num_classes == 1000
        self.weights_box.torchvision_button.setEnabled(ok and self._weights_worker is None)
        self.weights_box.torchvision_button.setToolTip(
            "Download torchvision's ImageNet weights (cached after the first time)" if ok else
            "torchvision has pretrained weights for resnet18..resnet152 (v1.5, shortcut B, "
            "1000 classes) only"
        )  # fmt: skip

    def _set_busy(self, busy: bool, message: str = "") -> None:
        self.weights_box.set_busy(busy)
        if busy:
            self._show_message(self.weights_box.status, message, "info")
        self._update_torchvision_button(self.state.choice)

    def _start_weights_job(self, fn: Any, *args: Any, message: str) -> None:
        if self._weights_worker is not None:
            self._show_message(self.weights_box.status, "Still busy with the previous weights; cancel it first.",
                               "error")  # fmt: skip
            return
        self._weights_worker = run_in_thread(
            fn, *args, on_done=self._on_weights_finished, on_error=self._on_weights_failed,
            on_progress=self._on_weights_progressed, on_cancel=self._on_weights_cancelled,
        )  # fmt: skip
        self._set_busy(True, message)

    def _on_weights_progressed(self, done: int, total: int) -> None:
        self.weights_box.show_progress(done, total)

    def _on_weights_finished(self, result: Any) -> None:
        self._weights_worker = None
        self._set_busy(False)
        if isinstance(result, str):  # a save job returns the path written
            self._show_message(self.weights_box.status, f"Saved to {result}", "ok")
            return
        self.state.set_weights(result)  # the choice becomes theirs; the chooser follows
        self._show_message(self.weights_box.status, weights_text(result), "ok")

    def _on_weights_failed(self, exc: BaseException) -> None:
        worker, self._weights_worker = self._weights_worker, None
        self._set_busy(False)
        if isinstance(exc, StudioError):
            self._show_message(self.weights_box.status, str(exc), "error")
        else:  # a bug or an OS error: say so, with the traceback behind "Show Details"
            self._show_message(self.weights_box.status, f"Failed: {exc}", "error")
            details = worker.traceback_text if worker is not None else ""
            show_error(self, "Weights", f"Unexpected error: {exc}", details)

    def _on_weights_cancelled(self) -> None:
        self._weights_worker = None
        self._set_busy(False)
        self._show_message(self.weights_box.status, "Cancelled; the model was not changed.", "info")

    @Slot()
    def _on_open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open weights", settings.last_folder("weights"), WEIGHTS_FILTER
        )
        if path:
            self.load_weights_file(path)

    @Slot()
    def _on_save_clicked(self) -> None:
        start = str(Path(settings.last_folder("weights")) / f"{self.state.choice.name}{SAFETENSORS_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save weights", start, SAFETENSORS_FILTER)
        if not path:
            return
        if not path.endswith(SAFETENSORS_SUFFIX):
            path += SAFETENSORS_SUFFIX
        settings.remember_folder("weights", path)
        self.save_weights_to(path)

    @Slot()
    def _on_torchvision_clicked(self) -> None:
        self._start_weights_job(_load_job, self.state.choice.name, "torchvision",
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
            self._show_message(self.weights_box.status, f"Drop to load {paths[0].name}", "info")
        else:
            event.ignore()
            self._show_message(self.weights_box.status,
                               f"Not a weight file: drop a {suffix_list(WEIGHT_SUFFIXES)} file.", "error")

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        paths = weight_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if not paths:
            event.ignore()
            self._show_message(self.weights_box.status, "Not a weight file; nothing was loaded.", "error")
            return
        event.acceptProposedAction()
        self.load_weights_file(paths[0])

    def _set_drop_highlight(self, on: bool) -> None:
        if on:
            color = self.palette().color(QPalette.ColorRole.Highlight).name()
            self.drop_frame.setStyleSheet(f"#dropFrame {{ border: 2px dashed {color}; border-radius: 6px; }}")
        else:
            self.drop_frame.setStyleSheet("")
