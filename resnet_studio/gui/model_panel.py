"""The Model panel: choose a network, see what it is, load, evaluate and export weights.

The panel draws `app.model.ModelState` (the choice and the loaded weights) and
forwards clicks to it: the chooser's controls call `state.set_choice`; the Weights
box (`gui/weights_box.py`, with the Pretrained chooser) loads weights into
`state.set_weights`; the Inspection and Training panels follow `state.changed`, never
this widget. Evaluate… opens `gui/evaluation_dialog.EvaluationDialog` on the state.

A choice shows its name, parameters, FLOPs and stage table at once, from core's
torch-free model table (`app.model.summarize`): the panel is built, and draws them,
before PyTorch has loaded. Everything slow runs in workers (`workers.run_in_thread`):
`describe` (the module tree, which needs torch, and the numbers of a network the
table lacks: up to a few seconds for cifar-resnet1202 at other options), reading,
downloading and exporting weights, and evaluations. Only one description job runs
at a time; a newer choice waits as "pending" and supersedes any older pending one,
so spinning the depth box never piles up threads. This module imports no torch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.model import ModelSummary, describe, summarize
from resnet_studio.core.catalog import WEIGHT_SUFFIXES, ModelChoice, is_weight_file, suffix_list
from resnet_studio.core.errors import StudioError
from resnet_studio.gui.model_choice import ModelChooser
from resnet_studio.gui.model_view import LayerTree, StageTable
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.weights_box import WeightsBox
from resnet_studio.gui.widgets import big_figure, bold_caption, flops_text, format_int, status_color
from resnet_studio.gui.workers import Worker, run_in_thread

if TYPE_CHECKING:  # it imports torch: loaded when first opened, not before the first paint
    from resnet_studio.gui.evaluation_dialog import EvaluationDialog

INFO_DELAY_MS = 150  # let a spin box or typing settle before measuring
LEFT_WIDTH = 440  # px: room for the Pretrained chooser's names and networks


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
        self._persist = context.persist
        self._evaluation: EvaluationDialog | None = None
        self._summary: ModelSummary | None = None
        self._info_worker: Worker | None = None
        self._pending: ModelChoice | None = None
        self._error_kind = "error"
        self._info_timer = QTimer(self, singleShot=True, interval=INFO_DELAY_MS)
        self._info_timer.timeout.connect(self._on_info_timer_timeout)
        self._build()
        self.state.changed.connect(self._on_model_changed)
        self.chooser.set_choice(self.state.choice)  # the controls show the state's network
        self._on_model_changed(self.state.choice, self.state.weights)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.chooser = ModelChooser()
        network = QGroupBox("Network")
        QVBoxLayout(network).addWidget(self.chooser)

        self.weights_box = WeightsBox(self.state)

        left = QVBoxLayout()
        left.addWidget(network)
        left.addWidget(self.weights_box, 1)  # the Pretrained list takes the height left
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setFixedWidth(LEFT_WIDTH)
        left.setContentsMargins(0, 0, 0, 0)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)  # a long description must not squeeze the numbers below
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.params_label = QLabel("…")
        self.params_label.setObjectName("paramsLabel")  # bench/first_paint.py watches it paint
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
        self.weights_box.evaluate_requested.connect(self._on_weights_evaluate_requested)

    # ------------------------------------------------------------------ Panel protocol
    def is_ready(self) -> bool:
        """The shown summary, module tree included, matches the state's choice and no
        measurement is under way."""
        return (
            self._summary is not None
            and self._summary.complete
            and self._summary.choice == self.state.choice
            and self._info_worker is None
            and self._pending is None
            and not self._info_timer.isActive()
            and self.weights_box.settled()
        )

    def confirm_close(self) -> bool:
        return True  # nothing here is lost by closing (weights and evaluation jobs are cancelled)

    def shutdown(self) -> None:
        """Stop this panel's jobs and wait for their threads (window closing)."""
        self._info_timer.stop()
        self._pending = None
        if self._info_worker is not None:
            self._info_worker.cancel()
            self._info_worker.join()
            self._info_worker = None
        if self._evaluation is not None:
            self._evaluation.shutdown()
        self.weights_box.shutdown()
        self.state.changed.disconnect(self._on_model_changed)

    def apply_palette(self) -> None:
        """Re-colour the status texts for the new light/dark palette."""
        self.error_label.setStyleSheet(f"color: {status_color(self._error_kind, self.palette()).name()};")
        self.weights_box.apply_palette()
        if self._evaluation is not None:
            self._evaluation.apply_palette()

    # ------------------------------------------------------------------ public API
    def summary(self) -> ModelSummary | None:
        """What the numbers, the stage table and the tree describe, or None before the
        first one; its `tree` is None while the module tree is being built."""
        return self._summary

    def busy(self) -> bool:
        """Weights are being read, downloaded, written or exported."""
        return self.weights_box.busy()

    def open_weights(self) -> None:
        """Ask for a weight file and load it (File > Open weights)."""
        self.weights_box.ask_open()

    def save_weights(self) -> None:
        """Ask for a file name and save the current weights (File > Save weights)."""
        self.weights_box.ask_save()

    def export_onnx(self) -> None:
        """Ask for a file name and export the network with its weights (File > Export ONNX…)."""
        self.weights_box.ask_export()

    def load_weights_file(self, path: str | Path) -> None:
        """Load a weight file into the current network, in a worker."""
        self.weights_box.load_file(path)

    def save_weights_to(self, path: str | Path) -> None:
        """Save the current weights (or a fresh initialisation) to `path` in a worker."""
        self.weights_box.save_to(path)

    def evaluate(self) -> EvaluationDialog:
        """Open (or raise) the Evaluate… dialog on the current network and weights."""
        if self._evaluation is None:
            from resnet_studio.gui.evaluation_dialog import EvaluationDialog  # imports torch

            self._evaluation = EvaluationDialog(self.state, self, persist=self._persist)
        self._evaluation.show()
        self._evaluation.raise_()
        self._evaluation.activateWindow()
        return self._evaluation

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
        if self._summary is not None and self._summary.choice == choice and self._pending is None:
            return  # only the weights changed: the description stands
        self.error_label.hide()
        try:
            quick = summarize(choice)  # milliseconds, no torch: the numbers at once
        except StudioError as exc:
            quick = None
            self._show_error(str(exc))
        if quick is not None:
            self._show_numbers(quick)
            loaded = "torch" in sys.modules  # (or being imported by the window's loader)
            self.layer_tree.show_message("Building the module tree…" if loaded
                                         else "Loading PyTorch for the module tree…")  # fmt: skip
        else:
            self.title.setText(f"<b style='font-size:14pt'>{choice.name}</b>&nbsp;&nbsp;measuring…")
        self._pending = choice
        self._info_timer.start()

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
        """The whole summary: the numbers (again: the table's equal the measured ones) and the tree."""
        self._show_numbers(summary)
        self.layer_tree.show_tree(summary.tree)
        self.summary_shown.emit(summary.info.name)

    def _show_numbers(self, summary: ModelSummary) -> None:
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
        self.error_label.hide()

    def _table_height(self) -> int:
        table = self.stage_table
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        return rows + table.horizontalHeader().height() + 2 * table.frameWidth() + 2

    def _show_error(self, message: str) -> None:
        self.error_label.setStyleSheet(f"color: {status_color(self._error_kind, self.palette()).name()};")
        self.error_label.setText(message)
        self.error_label.show()

    @Slot()
    def _on_weights_evaluate_requested(self) -> None:
        self.evaluate()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        paths = weight_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if paths and not self.weights_box.busy():
            event.acceptProposedAction()
            self._set_drop_highlight(True)
            self.weights_box.show_message(f"Drop to load {paths[0].name}", "info")
        else:
            event.ignore()
            self.weights_box.show_message(f"Not a weight file: drop a {suffix_list(WEIGHT_SUFFIXES)} file.",
                                          "error")  # fmt: skip

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_drop_highlight(False)
        paths = weight_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if not paths:
            event.ignore()
            self.weights_box.show_message("Not a weight file; nothing was loaded.", "error")
            return
        event.acceptProposedAction()
        self.load_weights_file(paths[0])

    def _set_drop_highlight(self, on: bool) -> None:
        if on:
            color = self.palette().color(QPalette.ColorRole.Highlight).name()
            self.drop_frame.setStyleSheet(f"#dropFrame {{ border: 2px dashed {color}; border-radius: 6px; }}")
        else:
            self.drop_frame.setStyleSheet("")
