"""One run's curves in the training plots: created once, fed with `setData`.

`RunCurves` holds the five `PlotDataItem`s of a run (training error raw and
smoothed, test error, loss raw and smoothed) and pushes its `RunSeries` into them
only when the series changed (see `gui.plots` for why it is built this way). It
also keeps the run's data extents for the plots' ranges (`app.training.plot_ranges`),
which `set_view_ranges` puts on the views.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

from resnet_studio.app.training.plot_ranges import Range, RunExtents, run_extents
from resnet_studio.app.training.series import RunSeries, SmoothedSeries

RAW_ALPHA = 60  # the raw curve under a smoothed one: visible, not competing


class RunCurves:
    """The five items of one run; created once, fed with setData."""

    def __init__(self, series: RunSeries, color: QColor) -> None:
        self.series = series
        self.color = QColor(color)
        self.drawn_version = -1
        self.smoothing: float | None = None
        self.smoothed = SmoothedSeries(series)
        self._extents: tuple[tuple[int, str, bool], RunExtents] | None = None
        self._marked = False  # the training curves carry a dot (one point so far)
        faint = QColor(color)
        faint.setAlpha(RAW_ALPHA)
        dashed = pg.mkPen(color, width=1.6, style=Qt.PenStyle.DashLine)
        self.train_raw = make_curve(pg.mkPen(faint, width=1, style=Qt.PenStyle.DashLine))
        self.train = make_curve(dashed)
        self.test = make_curve(pg.mkPen(color, width=2.4), name=series.model)
        # evaluations are sparse (every eval_every iterations): mark them, so the
        # first one shows before there is a line
        self.test.setSymbol("o")
        self.test.setSymbolSize(5)
        self.test.setSymbolPen(None)
        self.test.setSymbolBrush(color)
        self.loss_raw = make_curve(pg.mkPen(faint, width=1))
        self.loss = make_curve(pg.mkPen(color, width=1.8), name=series.model)

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
        self._mark_single_point(len(x) == 1)
        self.drawn_version = series.version
        return True

    def _mark_single_point(self, single: bool) -> None:
        # a line needs two points: the first window of a run shows as a dot
        if single == self._marked:
            return
        self._marked = single
        for item in (self.train, self.loss):
            item.setSymbol("o" if single else None)
            item.setSymbolSize(5)
            item.setSymbolPen(None)
            item.setSymbolBrush(self.color)

    def extents(self, x_key: str, log_y: bool) -> RunExtents:
        """What the run draws (for the plots' ranges), re-read only when its data,
        the x axis or the log mode changed."""
        key = (self.series.version, x_key, log_y)
        if self._extents is None or self._extents[0] != key:
            self._extents = (key, run_extents(self.series, x_key, log_y))
        return self._extents[1]


def make_curve(pen: QPen, name: str | None = None) -> pg.PlotDataItem:
    item = pg.PlotDataItem(pen=pen, name=name)
    item.setClipToView(True)
    item.setDownsampling(auto=True, method="peak")
    return item


def set_view_ranges(views: list[pg.ViewBox], x: Range | None, y: Range | None) -> None:
    """Exactly these ranges (no padding of pyqtgraph's) on each view, with the links
    blocked (both ways) so that none passes a pixel-aligned copy to the other."""
    if x is None and y is None:
        return
    for view in views:
        view.blockLink(True)
    try:
        for view in views:
            view.setRange(xRange=x, yRange=y, padding=0.0)
    finally:
        for view in views:
            view.blockLink(False)
