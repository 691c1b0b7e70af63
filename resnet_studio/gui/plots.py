"""Training curves in the paper's Figure 6 style: dashed training error, solid test error.

Why it is built this way (pyqtgraph `examples/scrollingPlots.py`, CONVENTIONS 5):

- Every curve is one `PlotDataItem`, created when its run first appears and fed with
  `setData` from the panel's redraw timer (~20 Hz), never one item per point and
  never `plot()` in a loop. Events only append to a `RunSeries` (app.training.series:
  numpy buffers that grow by doubling); `redraw()` pushes the runs whose data changed.
- Curves clip to the view and downsample by peaks, so 100 overlaid runs of 64k
  iterations stay interactive.
- Smoothing (TensorBoard's debiased EMA, `SmoothedSeries`) is drawn over the raw
  curve, which stays faint underneath; test error is shown raw, as in the paper.

The data, the smoothing and the CSV export live in `app.training.series`; this module
only draws. `PlotControls` is the bar above the plots (x axis, one plot, log y,
smoothing, export), bound to a `TrainingPlots`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QWidget,
)

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it
from pyqtgraph import exporters

from resnet_studio.app.training.series import RunSeries, SmoothedSeries, write_csv
from resnet_studio.gui import settings
from resnet_studio.gui.widgets import plot_colors

# Distinct on light and dark backgrounds (Tableau 10, the default of matplotlib).
RUN_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
RAW_ALPHA = 60  # the raw curve under a smoothed one: visible, not competing
X_KEYS = {"iterations": "iteration", "epochs": "epoch"}
EXPORT_FILTERS = "PNG image (*.png);;SVG image (*.svg);;CSV of the points (*.csv)"


def ask_export_path(parent: QWidget | None, suffix: str | None = None) -> Path | None:
    """File > Export Plot…'s dialog, in the last export folder; a name typed without a
    suffix gets the chosen filter's. None when cancelled."""
    start = str(Path(settings.last_folder("export")) / f"training{suffix or '.png'}")
    path, chosen = QFileDialog.getSaveFileName(parent, "Export plot", start, EXPORT_FILTERS)
    if not path:
        return None
    if not Path(path).suffix:
        path += ".svg" if "SVG" in chosen else ".csv" if "CSV" in chosen else ".png"
    settings.remember_folder("export", Path(path))
    return Path(path)


class _RunCurves:
    """The five items of one run; created once, fed with setData."""

    def __init__(self, series: RunSeries, color: QColor) -> None:
        self.series = series
        self.color = QColor(color)
        self.drawn_version = -1
        self.smoothing: float | None = None
        self.smoothed = SmoothedSeries(series)
        faint = QColor(color)
        faint.setAlpha(RAW_ALPHA)
        dashed = pg.mkPen(color, width=1.6, style=Qt.PenStyle.DashLine)
        self.train_raw = _curve(pg.mkPen(faint, width=1, style=Qt.PenStyle.DashLine))
        self.train = _curve(dashed)
        self.test = _curve(pg.mkPen(color, width=2.4), name=series.model)
        # evaluations are sparse (every eval_every iterations): mark them, so the
        # first one shows before there is a line
        self.test.setSymbol("o")
        self.test.setSymbolSize(5)
        self.test.setSymbolPen(None)
        self.test.setSymbolBrush(color)
        self.loss_raw = _curve(pg.mkPen(faint, width=1))
        self.loss = _curve(pg.mkPen(color, width=1.8), name=series.model)

    @property
    def error_items(self) -> list[pg.PlotDataItem]:
        return [self.train_raw, self.train, self.test]

    @property
    def loss_items(self) -> list[pg.PlotDataItem]:
        return [self.loss_raw, self.loss]

    def draw(self, x_key: str, smoothing: float, force: bool = False) -> bool:
        """Push the series into the items if anything changed; True if it drew."""
        series = self.series
        if not force and series.version == self.drawn_version and smoothing == self.smoothing:
            return False
        smoothed = self.smoothed.update(smoothing)
        self.smoothing = smoothing
        x = series.train[x_key].values
        self.train_raw.setData(x, 100 * series.train["train_error"].values)
        self.loss_raw.setData(x, series.train["loss"].values)
        self.train.setData(x, 100 * smoothed["train_error"])
        self.loss.setData(x, smoothed["loss"])
        self.train_raw.setVisible(smoothing > 0)
        self.loss_raw.setVisible(smoothing > 0)
        self.test.setData(series.evals[x_key].values, 100 * series.evals["error"].values)
        self.drawn_version = series.version
        return True


def _curve(pen, name: str | None = None) -> pg.PlotDataItem:
    item = pg.PlotDataItem(pen=pen, name=name)
    item.setClipToView(True)
    item.setDownsampling(auto=True, method="peak")
    return item


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Figure 6 left and middle (plain | ResNet, linked axes) or one overlaid error plot,
    and the loss below. The panel owns the data; this widget only draws it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_axis = "iterations"
        self.smoothing = 0.6
        self.overlay = False
        self.log_y = False
        self._curves: dict[str, _RunCurves] = {}
        self._next_color = 0
        self.plain_plot = self._make_plot("Plain networks")
        self.resnet_plot = self._make_plot("ResNets")
        self.loss_plot = self._make_plot("Training loss", error=False)
        self.resnet_plot.setXLink(self.plain_plot)
        self.resnet_plot.setYLink(self.plain_plot)
        # The loss plot is not x-linked: pyqtgraph links views in screen pixels, and the
        # loss spans two columns, so a link would show twice the error plots' range.
        self._place()
        self.apply_palette()

    # ------------------------------------------------------------------ layout
    def _make_plot(self, title: str, error: bool = True) -> pg.PlotItem:
        plot = pg.PlotItem()
        plot.setTitle(title)
        plot.showGrid(x=True, y=True, alpha=0.25)
        for name in ("left", "bottom"):
            # grid lines at the labelled ticks only: pyqtgraph draws the grid as part of
            # each axis, and its minor-tick lines made every update 2.5x as slow to paint
            # (bench/bench_gui_training.py) as well as busier to read
            plot.getAxis(name).setStyle(maxTickLevel=0)
        plot.setLabel("left", "error (%)" if error else "loss")
        plot.addLegend(offset=(-8, 8), labelTextSize="8pt", verSpacing=-6)
        plot.setMenuEnabled(True)
        plot.getAxis("left").setWidth(48)  # aligned axes above each other
        return plot

    def _place(self) -> None:
        """Side by side (Figure 6) or one overlaid error plot; the loss spans the width."""
        self.ci.clear()
        if self.overlay:
            self.addItem(self.plain_plot, row=0, col=0, colspan=2)
        else:
            self.addItem(self.plain_plot, row=0, col=0)
            self.addItem(self.resnet_plot, row=0, col=1)
        self.addItem(self.loss_plot, row=1, col=0, colspan=2)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.plain_plot.setTitle("Plain and residual networks" if self.overlay else "Plain networks")
        self.resnet_plot.setTitle("ResNets")
        self._update_x_labels()

    def _update_x_labels(self) -> None:
        label = "iteration" if self.x_axis == "iterations" else "epoch"
        for plot in (self.plain_plot, self.resnet_plot, self.loss_plot):
            plot.setLabel("bottom", label)

    def apply_palette(self) -> None:
        """Follow the window's light/dark palette (background, axes, titles)."""
        colors = plot_colors()
        self.setBackground(colors["background"])
        pen = pg.mkPen(colors["foreground"])
        for plot in (self.plain_plot, self.resnet_plot, self.loss_plot):
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pen)
                axis.setTextPen(pen)
            plot.titleLabel.setAttr("color", colors["foreground"])
            plot.titleLabel.setText(plot.titleLabel.text)
            legend = plot.legend
            if legend is not None:
                legend.setLabelTextColor(colors["foreground"])
                background = QColor(colors["background"])
                background.setAlpha(200)
                legend.setBrush(pg.mkBrush(background))
        for curves in self._curves.values():
            curves.draw(X_KEYS[self.x_axis], self.smoothing, force=True)

    # ------------------------------------------------------------------ runs
    def color_of(self, name: str) -> QColor | None:
        curves = self._curves.get(name)
        return QColor(curves.color) if curves is not None else None

    def run_names(self) -> list[str]:
        return list(self._curves)

    def series(self, name: str) -> RunSeries | None:
        curves = self._curves.get(name)
        return curves.series if curves is not None else None

    def curves_of(self, name: str) -> _RunCurves | None:
        return self._curves.get(name)

    def add_run(self, series: RunSeries, color: QColor | str | None = None) -> QColor:
        """Show a run (its items are created here, once); returns its colour."""
        if series.name in self._curves:
            return QColor(self._curves[series.name].color)
        if color is None:
            color = RUN_COLORS[self._next_color % len(RUN_COLORS)]
            self._next_color += 1
        curves = _RunCurves(series, QColor(color))
        self._curves[series.name] = curves
        error_plot = self._error_plot_for(series)
        for item in curves.error_items:
            error_plot.addItem(item)
        for item in curves.loss_items:
            self.loss_plot.addItem(item)
        self._apply_log(curves)
        curves.draw(X_KEYS[self.x_axis], self.smoothing, force=True)
        return QColor(curves.color)

    def remove_run(self, name: str) -> None:
        curves = self._curves.pop(name, None)
        if curves is None:
            return
        for item in curves.error_items:
            self._error_plot_for(curves.series).removeItem(item)
        for item in curves.loss_items:
            self.loss_plot.removeItem(item)

    def _error_plot_for(self, series: RunSeries) -> pg.PlotItem:
        return self.plain_plot if self.overlay or series.plain else self.resnet_plot

    # ------------------------------------------------------------------ options
    def redraw(self) -> int:
        """Push changed runs into their items (the panel's timer calls this). Returns
        how many runs were redrawn."""
        key = X_KEYS[self.x_axis]
        return sum(curves.draw(key, self.smoothing) for curves in self._curves.values())

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = min(max(float(weight), 0.0), 0.999)
        self.redraw()

    def set_x_axis(self, x_axis: str) -> None:
        """'iterations' or 'epochs'."""
        self.x_axis = x_axis
        self._update_x_labels()
        for curves in self._curves.values():
            curves.draw(X_KEYS[x_axis], self.smoothing, force=True)
        self.plain_plot.enableAutoRange()
        self.loss_plot.enableAutoRange()

    def set_overlay(self, overlay: bool) -> None:
        """Move the ResNet curves into the plain plot (one plot) or back (two plots)."""
        if overlay == self.overlay:
            return
        for curves in self._curves.values():
            if not curves.series.plain:
                source, target = (self.resnet_plot, self.plain_plot) if overlay else (
                    self.plain_plot, self.resnet_plot)
                for item in curves.error_items:
                    source.removeItem(item)
                    target.addItem(item)
        self.overlay = overlay
        self._place()

    def set_log_y(self, log_y: bool) -> None:
        self.log_y = log_y
        for plot in (self.plain_plot, self.resnet_plot, self.loss_plot):
            plot.setLogMode(y=log_y)
        for curves in self._curves.values():
            self._apply_log(curves)

    def _apply_log(self, curves: _RunCurves) -> None:
        for item in curves.error_items + curves.loss_items:
            item.setLogMode(False, self.log_y)

    # ------------------------------------------------------------------ export
    def export(self, path: str | Path) -> str:
        """Write the plot (PNG, SVG) or its points (CSV) by the suffix of `path`;
        returns what was written, for the status line (OSError if it could not)."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return f"Wrote {self.export_csv(path):,} points to {path}"
        self.export_image(path)
        return f"Saved the plot to {path}"

    def export_image(self, path: str | Path) -> None:
        """PNG at twice the widget's size (crisp in documents), or SVG by suffix."""
        path = Path(path)
        if path.suffix.lower() == ".svg":
            try:
                exporters.SVGExporter(self.scene()).export(str(path))
            except ValueError:
                # pyqtgraph 0.14's exporter cannot parse the closed paths newer Qt
                # writes ("... Z"; pyqtgraph issue #3495): let Qt write the SVG itself.
                self._export_svg_with_qt(path)
            return
        exporter = exporters.ImageExporter(self.scene())
        exporter.parameters()["width"] = max(2 * self.width(), 800)
        exporter.export(str(path))

    def _export_svg_with_qt(self, path: Path) -> None:
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(self.size())
        generator.setViewBox(self.rect())
        generator.setTitle("ResNet Studio training curves")
        painter = QPainter(generator)
        try:
            self.render(painter)
        finally:
            painter.end()

    def export_csv(self, path: str | Path, names: Iterable[str] | None = None) -> int:
        """The raw points (no smoothing) of the shown runs; returns the rows written."""
        return write_csv(path, [self._curves[n].series for n in (names or self._curves)])



class PlotControls(QWidget):
    """The bar above the plots: x axis, one plot or two, log y, smoothing, export.
    The view options go straight to `plots`; `export_requested(suffix)` asks the
    panel to export (it owns the file dialog and the messages)."""

    export_requested = Signal(str)

    def __init__(self, plots: TrainingPlots, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = plots
        self.x_combo = QComboBox()
        self.x_combo.addItems(list(X_KEYS))
        self.x_combo.currentTextChanged.connect(plots.set_x_axis)
        self.overlay_check = QCheckBox("One plot")
        self.overlay_check.setToolTip("Overlay plain and residual nets in one plot instead of "
                                      "Figure 6's two side by side")  # fmt: skip
        self.overlay_check.toggled.connect(plots.set_overlay)
        self.log_check = QCheckBox("Log y")
        self.log_check.toggled.connect(plots.set_log_y)
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(int(round(plots.smoothing * 100)))
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
        for label, suffix in (("PNG image…", ".png"), ("SVG image…", ".svg"),
                              ("CSV of the points…", ".csv")):  # fmt: skip
            menu.addAction(label, lambda suffix=suffix: self.export_requested.emit(suffix))
        export.setMenu(menu)
        legend = QLabel("dashed: training error   solid: test error")
        legend.setToolTip("As in the paper's Figure 6")
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
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

    @Slot(int)
    def _on_smooth_slider_changed(self, value: int) -> None:
        self.smooth_label.setText(f"{value / 100:.2f}")
        self.plots.set_smoothing(value / 100)
