"""Training curves in the paper's Figure 6 style: dashed training error, solid test error.

Why it is built this way (pyqtgraph `examples/scrollingPlots.py`, CONVENTIONS 5):

- Every curve is one `PlotDataItem`, created when its run first appears and fed with
  `setData` from the panel's redraw timer (~20 Hz), never one item per point and
  never `plot()` in a loop. Events only append to a `RunSeries` (numpy buffers that
  grow by doubling); `redraw()` pushes the runs whose data changed.
- Curves clip to the view and downsample by peaks, so 100 overlaid runs of 64k
  iterations stay interactive.
- Smoothing is TensorBoard's bias-corrected exponential moving average, computed
  incrementally (it is causal, so new points need only the last state), with the raw
  curve faint underneath. Test error is measured every `eval_every` iterations and is
  shown raw, as in the paper.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it
from pyqtgraph import exporters

from resnet_studio.gui.widgets import plot_colors

# Distinct on light and dark backgrounds (Tableau 10, the default of matplotlib).
RUN_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
CSV_COLUMNS = ("run", "model", "iteration", "epoch", "loss", "train_error", "val_error",
               "test_error", "lr")  # fmt: skip
RAW_ALPHA = 60  # the raw curve under a smoothed one: visible, not competing
X_KEYS = {"iterations": "iteration", "epochs": "epoch"}


def smooth(values: Iterable[float], weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an EMA debiased by 1 - weight**n, n = finite points seen.

    Without the debiasing the curve would start at 0 and creep up; dividing by
    1 - w**n makes the first smoothed point equal the first value. Non-finite points
    are passed through and do not enter the average (as in TensorBoard).
    """
    return _Smoother(weight).extend(np.asarray(list(values), dtype=float))


class _Smoother:
    """Incremental state of `smooth`: feed new points, get their smoothed values."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)
        self.last = 0.0
        self.count = 0

    def extend(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=float)
        w, last, count = self.weight, self.last, self.count
        for i, value in enumerate(values.tolist()):  # a plain loop: the state is serial
            if not math.isfinite(value):
                out[i] = value
                continue
            last = last * w + (1.0 - w) * value
            count += 1
            out[i] = last / (1.0 - w**count) if w > 0 else last
        self.last, self.count = last, count
        return out


class _Column:
    """A float column that grows by doubling, so appends are O(1) and views are free."""

    def __init__(self) -> None:
        self._data = np.empty(64, dtype=float)
        self.size = 0

    def append(self, value: Any) -> None:
        if self.size == len(self._data):
            self._data = np.resize(self._data, 2 * len(self._data))
        self._data[self.size] = math.nan if value is None else float(value)
        self.size += 1

    def truncate(self, size: int) -> None:
        self.size = min(self.size, size)

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.size]


@dataclass
class RunSeries:
    """The points of one run, as plain arrays: training records and evaluations apart."""

    name: str
    model: str
    records: list[dict[str, Any]] = field(default_factory=list)  # raw, for CSV
    train: dict[str, _Column] = field(default_factory=dict)
    evals: dict[str, _Column] = field(default_factory=dict)
    version: int = 0  # bumped on every change; the plot redraws when it differs

    def __post_init__(self) -> None:
        self.train = {k: _Column() for k in ("iteration", "epoch", "loss", "train_error")}
        self.evals = {k: _Column() for k in ("iteration", "epoch", "error")}

    @property
    def plain(self) -> bool:
        return is_plain(self.model)

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one metrics record (an event or a metrics.jsonl line)."""
        self.records.append(dict(record))
        if "train_error" in record or "loss" in record:
            for key, column in self.train.items():
                column.append(record.get(key))
        error = record.get("test_error", record.get("val_error"))
        if error is not None or "test_error" in record or "val_error" in record:
            self.evals["iteration"].append(record.get("iteration"))
            self.evals["epoch"].append(record.get("epoch"))
            self.evals["error"].append(error)
        self.version += 1

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def truncate_after(self, iteration: int) -> None:
        """Forget points past `iteration` (a resumed run redoes them from its checkpoint)."""
        self.records = [r for r in self.records if r.get("iteration", 0) <= iteration]
        for columns in (self.train, self.evals):
            its = columns["iteration"].values
            keep = int(np.searchsorted(its, iteration, side="right"))
            for column in columns.values():
                column.truncate(keep)
        self.version += 1


def is_plain(model: str) -> bool:
    """Plain nets (no shortcuts) go to Figure 6's left plot, ResNets to the middle one."""
    return "plain" in model.lower()


class _RunCurves:
    """The five items of one run; created once, fed with setData."""

    def __init__(self, series: RunSeries, color: QColor) -> None:
        self.series = series
        self.color = QColor(color)
        self.drawn_version = -1
        self.smoothing = None
        self.train_smoother: _Smoother | None = None
        self.loss_smoother: _Smoother | None = None
        self.train_smooth = _Column()
        self.loss_smooth = _Column()
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
        self._update_smoothed(smoothing)
        x = series.train[x_key].values
        self.train_raw.setData(x, 100 * series.train["train_error"].values)
        self.loss_raw.setData(x, series.train["loss"].values)
        self.train.setData(x, 100 * self.train_smooth.values)
        self.loss.setData(x, self.loss_smooth.values)
        self.train_raw.setVisible(smoothing > 0)
        self.loss_raw.setVisible(smoothing > 0)
        self.test.setData(series.evals[x_key].values, 100 * series.evals["error"].values)
        self.drawn_version = series.version
        return True

    def _update_smoothed(self, smoothing: float) -> None:
        """Extend the smoothed columns by the new points; restart on a new weight or
        after a truncation (a resumed run)."""
        n = self.series.train["loss"].size
        if smoothing != self.smoothing or self.train_smooth.size > n:
            self.smoothing = smoothing
            self.train_smoother, self.loss_smoother = _Smoother(smoothing), _Smoother(smoothing)
            self.train_smooth, self.loss_smooth = _Column(), _Column()
        start = self.train_smooth.size
        for raw, smoother, out in (
            (self.series.train["train_error"], self.train_smoother, self.train_smooth),
            (self.series.train["loss"], self.loss_smoother, self.loss_smooth),
        ):
            for value in smoother.extend(raw.values[start:n]).tolist():
                out.append(value)


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

    def clear_runs(self) -> None:
        for name in list(self._curves):
            self.remove_run(name)
        self._next_color = 0

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


def write_csv(path: str | Path, runs: Iterable[RunSeries]) -> int:
    """One row per metrics record: the same numbers as metrics.jsonl, errors as fractions."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for series in runs:
            for record in series.records:
                values = {"run": series.name, "model": series.model, **record}
                writer.writerow(["" if values.get(c) is None else values.get(c) for c in CSV_COLUMNS])
                rows += 1
    return rows
