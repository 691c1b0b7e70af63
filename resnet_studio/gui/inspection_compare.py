"""Two-model parts of the Inspection panel: the "compare with…" bar, Figure 7 and the
side-by-side comparison of one image through both models.

Figure 7 of the paper overlays a plain net and its residual twin: residual nets'
3x3 layers respond less strongly, which supports the idea that residual functions
are closer to zero. The plots follow CONVENTIONS 5: one curve item per model,
created once and fed with `setData`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

from resnet_studio.app.inspection.jobs import Comparison
from resnet_studio.app.inspection.views import CompareSettings, Figure7Settings
from resnet_studio.core.catalog import WEIGHTS_FILTER, model_names, twin
from resnet_studio.core.errors import ModelNameError
from resnet_studio.gui import settings
from resnet_studio.gui.image_views import ProbabilityBars
from resnet_studio.gui.inspection_views import ViewWidget
from resnet_studio.gui.plots import RUN_COLORS
from resnet_studio.gui.widgets import plot_colors, status_color

SOURCES = (("CIFAR-10 test images", "cifar10"), ("synthetic test images", "synthetic"),
           ("the loaded images", "images"))


class CompareBar(QWidget):
    """Name and optional weights (file or run) of a second model. `load_requested(name,
    source)` on Load; `clear_requested()` on Clear."""

    load_requested = Signal(str, str)
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("network, e.g. cifar-plain56")
        completer = QCompleter(model_names(), self.name_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.name_edit.setCompleter(completer)
        self.twin_button = QPushButton("Plain twin")
        self.twin_button.setToolTip("The same network with or without shortcuts (Figure 7's pairs)")
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("weights: file or run name (empty: random)")
        self.browse_button = QPushButton("…")
        self.browse_button.setToolTip("Choose a weight file")
        self.browse_button.setFixedWidth(32)
        self.load_button = QPushButton("Load")
        self.clear_button = QPushButton("Clear")
        self.status = QLabel("No second model: Figure 7 and Compare show one network.")
        self.status.setWordWrap(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("<b>Compare with</b>"), 0, 0)
        grid.addWidget(self.name_edit, 0, 1)
        grid.addWidget(self.twin_button, 0, 2, 1, 2)
        grid.addWidget(QLabel("Weights"), 1, 0)
        grid.addWidget(self.weights_edit, 1, 1)
        grid.addWidget(self.browse_button, 1, 2)
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.clear_button)
        grid.addLayout(row, 1, 3)
        grid.addWidget(self.status, 2, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        self.twin_button.clicked.connect(self._on_twin_clicked)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.name_edit.returnPressed.connect(self._on_load_clicked)
        self.clear_button.clicked.connect(self.clear_requested)
        self.current_name = ""

    def set_status(self, text: str, kind: str = "info") -> None:
        self.status.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.status.setText(text)

    @Slot()
    def _on_twin_clicked(self) -> None:
        # Figure 7 and Table 2 compare exactly these pairs: cifar-resnet56 / cifar-plain56
        try:
            name = twin(self.current_name)
        except ModelNameError:
            self.set_status(f"{self.current_name or 'This network'} has no plain/residual twin in the zoo.",
                            "error")  # fmt: skip
            return
        self.name_edit.setText(name)

    @Slot()
    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights of the second model",
                                              settings.last_folder("weights"), WEIGHTS_FILTER)  # fmt: skip
        if path:
            self.weights_edit.setText(path)

    @Slot()
    def _on_load_clicked(self) -> None:
        self.load_requested.emit(self.name_edit.text().strip(), self.weights_edit.text().strip())


def _plot(title: str, x_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    item = plot.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", x_label)
    item.setLabel("left", "std")
    item.showGrid(x=True, y=True, alpha=0.25)
    item.addLegend(offset=(-10, 10))
    item.setClipToView(True)
    plot.setMinimumHeight(160)
    return plot


class Figure7Pane(ViewWidget):
    """Std of every 3x3 layer's response, in layer order and sorted; one curve per
    model (at most two: the current one and the comparison)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_box = QComboBox()
        for text, key in SOURCES:
            self.source_box.addItem(text, key)
        self.count_box = QSpinBox()
        self.count_box.setRange(2, 512)
        self.count_box.setValue(Figure7Settings().count)
        self.count_box.setSuffix(" images")
        self.status = QLabel("")
        self.plots = [_plot("In layer order", "3x3 layer (network order)"),
                      _plot("Sorted", "3x3 layer (by std, descending)")]  # fmt: skip
        self._curves: dict[str, list[pg.PlotDataItem]] = {}
        caption = QLabel(
            "Figure 7 of the paper: standard deviation of each 3x3 layer's response (after BN, "
            "before ReLU) over a batch. Residual nets respond less than their plain twins: "
            "their residual functions are closer to zero."
        )
        caption.setWordWrap(True)
        caption.setEnabled(False)
        controls = QHBoxLayout()
        for widget in (QLabel("Batch"), self.count_box, QLabel("of"), self.source_box, self.status):
            controls.addWidget(widget)
        controls.addStretch(1)
        plots = QHBoxLayout()
        for plot in self.plots:
            plots.addWidget(plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addLayout(plots, 1)
        layout.addWidget(caption)
        self.source_box.currentIndexChanged.connect(self.request_changed)
        self.count_box.editingFinished.connect(self.request_changed)

    def settings(self) -> Figure7Settings:
        return Figure7Settings(self.source(), self.count())

    def show_result(self, result: dict) -> None:
        self.show_stats(result)

    def set_pending(self) -> None:
        self.set_status("computing…")

    def set_progress(self, done: int, total: int) -> None:
        self.set_status(f"computing… model {min(done + 1, total)} of {total}")

    def show_failure(self, text: str) -> None:
        self.set_status(text, "error")

    def source(self) -> str:
        return self.source_box.currentData()

    def count(self) -> int:
        return self.count_box.value()

    def set_status(self, text: str, kind: str = "info") -> None:
        self.status.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.status.setText(text)

    def show_stats(self, stats: dict) -> None:
        """Draw core's Figure7Stats per label; labels not in `stats` are emptied."""
        for label in list(self._curves):
            if label not in stats:
                for plot, curve in zip(self.plots, self._curves.pop(label), strict=True):
                    plot.getPlotItem().removeItem(curve)
        for i, (label, s) in enumerate(stats.items()):
            curves = self._curves.get(label)
            if curves is None:
                color = RUN_COLORS[i % len(RUN_COLORS)]
                pen = pg.mkPen(color, width=2)
                curves = [plot.getPlotItem().plot(name=label, pen=pen, symbol="o", symbolSize=4,
                                                  symbolBrush=color, symbolPen=None) for plot in self.plots]  # fmt: skip
                self._curves[label] = curves
            x = np.arange(1, len(s.std) + 1)
            curves[0].setData(x, s.std)
            curves[1].setData(x, s.sorted_std)
        images = next(iter(stats.values())).images if stats else 0
        self.set_status(f"over {images} images" if images else "")

    def apply_palette(self) -> None:
        colors = plot_colors(self.palette())
        for plot in self.plots:
            plot.setBackground(colors["background"])


class ComparePane(ViewWidget):
    """One image through two models: their top-5 side by side and ||F(x)|| per block."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.titles = [QLabel(), QLabel()]
        self.bars = [ProbabilityBars(), ProbabilityBars()]
        for title in self.titles:
            title.setWordWrap(True)
            title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setTitle("‖F(x)‖₂ of every block for this image (residual branch only)")
        item.setLabel("bottom", "block (network order)")
        item.setLabel("left", "‖F(x)‖₂")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.addLegend(offset=(-10, 10))
        self._curves: list[pg.PlotDataItem] = []
        for i in range(2):
            color = RUN_COLORS[i]
            self._curves.append(item.plot(name=" ", pen=pg.mkPen(color, width=2), symbol="o",
                                          symbolSize=4, symbolBrush=color, symbolPen=None))  # fmt: skip
        columns = QHBoxLayout()
        for title, bars in zip(self.titles, self.bars, strict=True):
            column = QVBoxLayout()
            column.addWidget(title)
            column.addWidget(bars)
            columns.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(columns)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)
        self.clear("Load a second model with “Compare with” above to see both side by side.")

    def settings(self) -> CompareSettings:
        return CompareSettings()

    def show_result(self, result: Comparison) -> None:
        self.show_comparison(result)

    def clear(self, text: str | None = None) -> None:
        for title, bars in zip(self.titles, self.bars, strict=True):
            title.setText("")
            bars.set_rows([], (text or "") if bars is self.bars[0] else "")
        for curve in self._curves:
            curve.setData([], [])
        self.summary.setText("")

    def show_comparison(self, comparison: Comparison) -> None:
        """The first two models of an `app.inspection.jobs.Comparison`."""
        legend = self.plot.getPlotItem().legend
        if legend is not None:
            legend.clear()
        lines = []
        for i, model in enumerate(comparison.models[:2]):
            self.titles[i].setText(f"<b>{model.label}</b><br><small>{model.weights_text}</small>")
            self.bars[i].set_rows([(s.name, s.probability) for s in model.top])
            profile = model.profile
            self._curves[i].setData(np.arange(1, len(profile.residual_l2) + 1), profile.residual_l2)
            if legend is not None:
                legend.addItem(self._curves[i], model.label)
            ratios = profile.ratio[np.isfinite(profile.ratio)]
            if ratios.size:
                lines.append(f"{model.name}: median ‖F(x)‖/‖x‖ = {np.median(ratios):.3f} over "
                             f"{ratios.size} blocks")  # fmt: skip
            else:
                lines.append(f"{model.name}: plain — no shortcuts, F(x) carries the whole signal")
        self.summary.setText("   ·   ".join(lines))

    def apply_palette(self) -> None:
        self.plot.setBackground(plot_colors(self.palette())["background"])
