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
- The view ranges are computed from the data (`app.training.plot_ranges`), not by
  pyqtgraph's per-plot auto-range: the linked plain and ResNet plots get the union
  of every run, so neither clips the other's curves, and a first point shows on
  axes that span the run. Panning or zooming a plot stops the following; its "A"
  button (or the menu's auto range) starts it again.

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

from resnet_studio.app.training.plot_ranges import fit_views
from resnet_studio.app.training.series import RunSeries, write_csv
from resnet_studio.gui import settings
from resnet_studio.gui.plot_curves import RunCurves, set_view_ranges
from resnet_studio.gui.plot_legend import FigureLegend
from resnet_studio.gui.widgets import plot_colors

# Distinct on light and dark backgrounds (Tableau 10, the default of matplotlib).
RUN_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
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


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Figure 6 left and middle (plain | ResNet, linked axes) or one overlaid error plot,
    and the loss below. The panel owns the data; this widget only draws it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_axis = "iterations"
        self.smoothing = 0.6
        self.overlay = False
        self.log_y = False
        self._curves: dict[str, RunCurves] = {}
        self._next_color = 0
        self.plain_plot = self._make_plot("Plain networks")
        self.resnet_plot = self._make_plot("ResNets")
        self.loss_plot = self._make_plot("Training loss", error=False)
        # one legend for the three plots, in a row above them: in a plot's corner it
        # hid the ends of the curves (gui.plot_legend)
        self.legend = FigureLegend()
        self.ci.geometryChanged.connect(self._on_layout_geometry_changed)
        # the ranges are ours (fit_ranges): they follow the data until the user pans or
        # zooms, the linked error plots and the loss plot apart
        self.following = {"error": True, "loss": True}
        for plot in (self.plain_plot, self.resnet_plot, self.loss_plot):
            plot.vb.disableAutoRange()
            plot.vb.sigRangeChangedManually.connect(self._on_view_range_changed_manually)
            plot.vb.sigStateChanged.connect(self._on_view_state_changed)
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
        plot.setMenuEnabled(True)
        plot.getAxis("left").setWidth(48)  # aligned axes above each other
        return plot

    def _place(self) -> None:
        """Side by side (Figure 6) or one overlaid error plot; the loss spans the width."""
        self.ci.clear()
        self.addItem(self.legend, row=0, col=0, colspan=2)
        self.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignHCenter)
        if self.overlay:
            self.addItem(self.plain_plot, row=1, col=0, colspan=2)
        else:
            self.addItem(self.plain_plot, row=1, col=0)
            self.addItem(self.resnet_plot, row=1, col=1)
        self.addItem(self.loss_plot, row=2, col=0, colspan=2)
        self.ci.layout.setRowStretchFactor(0, 0)
        self.ci.layout.setRowStretchFactor(1, 3)
        self.ci.layout.setRowStretchFactor(2, 2)
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
        self.legend.setLabelTextColor(colors["foreground"])
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

    def curves_of(self, name: str) -> RunCurves | None:
        return self._curves.get(name)

    def add_run(self, series: RunSeries, color: QColor | str | None = None) -> QColor:
        """Show a run (its items are created here, once); returns its colour."""
        if series.name in self._curves:
            return QColor(self._curves[series.name].color)
        if color is None:
            color = RUN_COLORS[self._next_color % len(RUN_COLORS)]
            self._next_color += 1
        curves = RunCurves(series, QColor(color))
        self._curves[series.name] = curves
        error_plot = self._error_plot_for(series)
        for item in curves.error_items:
            error_plot.addItem(item)
        for item in curves.loss_items:
            self.loss_plot.addItem(item)
        self.legend.add(curves.test, series.model)  # solid line and dot: as drawn
        self._apply_log(curves)
        curves.draw(X_KEYS[self.x_axis], self.smoothing, force=True)
        self.fit_ranges()
        return QColor(curves.color)

    def remove_run(self, name: str) -> None:
        curves = self._curves.pop(name, None)
        if curves is None:
            return
        for item in curves.error_items:
            self._error_plot_for(curves.series).removeItem(item)
        for item in curves.loss_items:
            self.loss_plot.removeItem(item)
        self.legend.remove(curves.test)
        self.fit_ranges()

    @Slot()
    def _on_layout_geometry_changed(self) -> None:
        self.legend.fit_width(self.ci.contentsRect().width())

    def _error_plot_for(self, series: RunSeries) -> pg.PlotItem:
        return self.plain_plot if self.overlay or series.plain else self.resnet_plot

    # ------------------------------------------------------------------ options
    def redraw(self) -> int:
        """Push changed runs into their items (the panel's timer calls this). Returns
        how many runs were redrawn."""
        key = X_KEYS[self.x_axis]
        drawn = sum(curves.draw(key, self.smoothing) for curves in self._curves.values())
        if drawn:
            self.fit_ranges()
        return drawn

    def fit_ranges(self) -> None:
        """Set the ranges that show every run whole (app.training.plot_ranges) on the
        plots that follow the data: one error range on both linked plots, the same
        x on the loss plot."""
        key = X_KEYS[self.x_axis]
        views = fit_views((c.extents(key, self.log_y) for c in self._curves.values()),
                          key, self.log_y)  # fmt: skip
        if self.following["error"]:
            set_view_ranges([self.plain_plot.vb, self.resnet_plot.vb], views.x, views.error)
        if self.following["loss"]:
            set_view_ranges([self.loss_plot.vb], views.x, views.loss)

    def follow_data(self) -> None:
        """Every plot follows the data again (a new x axis, the auto button)."""
        self.following = dict.fromkeys(self.following, True)
        self.fit_ranges()

    def _group_of(self, view: object) -> str:
        return "loss" if view is self.loss_plot.vb else "error"

    @Slot(object)
    def _on_view_range_changed_manually(self, _mask: object) -> None:
        self.following[self._group_of(self.sender())] = False

    @Slot(object)
    def _on_view_state_changed(self, view: pg.ViewBox) -> None:
        # pyqtgraph's "A" button and the menu's auto range enable its auto-range,
        # which fits one plot to its own items: take the request over instead
        if any(view.autoRangeEnabled()):
            view.disableAutoRange()
            self.following[self._group_of(view)] = True
            self.fit_ranges()

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = min(max(float(weight), 0.0), 0.999)
        self.redraw()

    def set_x_axis(self, x_axis: str) -> None:
        """'iterations' or 'epochs'."""
        self.x_axis = x_axis
        self._update_x_labels()
        for curves in self._curves.values():
            curves.draw(X_KEYS[x_axis], self.smoothing, force=True)
        self.follow_data()

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
        self.fit_ranges()

    def set_log_y(self, log_y: bool) -> None:
        self.log_y = log_y
        for plot in (self.plain_plot, self.resnet_plot, self.loss_plot):
            plot.setLogMode(y=log_y)
        for curves in self._curves.values():
            self._apply_log(curves)
        self.follow_data()  # the old range is in the other units

    def _apply_log(self, curves: RunCurves) -> None:
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
