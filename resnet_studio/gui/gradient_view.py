"""Gradient flow: each shown run's gradient norm per layer against depth, live.

The paper (§4.1) says its plain nets, trained with BN, have healthy gradients, so
their degradation is not vanishing gradients. Two plots in Figure 6's arrangement,
plain nets left, ResNets right (y linked, log scale), hold one line per run: the
latest log window's mean gradient norm of each weighted layer, at its depth on the
main path (conv1 at 1, the fc last; projection shortcuts left out). A plain net
whose early layers sit decades below its last ones would be vanishing; lines of
plain and residual twins at like heights say the claim holds.

The view follows the runs `TrainingPlots` shows (same runs, same colours) and reads
their `RunSeries` (`latest_grad_norms`, app layer); each line is created once and fed
with `setData` when its series' version changed, from the panel's redraw timer.
The shared y range is the union of both plots' lines (`fit_y`), the log ticks are
spaced to the axis' height (`gui.log_axis`), and the runs' names stand in a column
beside the plots (`gui.plot_legend`), where they hide no line.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

from resnet_studio.app.training.plot_ranges import fit_y, value_range
from resnet_studio.gui.log_axis import LogAxis
from resnet_studio.gui.plot_curves import set_view_ranges
from resnet_studio.gui.plot_legend import FigureLegend
from resnet_studio.gui.plots import TrainingPlots
from resnet_studio.gui.widgets import plot_colors

__all__ = ["GradientView"]


class _Line:
    """One run's line, created once."""

    def __init__(self, item: pg.PlotDataItem, plain: bool) -> None:
        self.item, self.plain = item, plain
        self.drawn_version = -1
        self.norms = np.empty(0)  # what it draws, for the shared y range


class GradientView(pg.GraphicsLayoutWidget):
    """Gradient norm against depth for the runs `plots` shows; `redraw()` on a timer."""

    def __init__(self, plots: TrainingPlots, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plots = plots
        self._lines: dict[str, _Line] = {}
        self.plain_plot = self._make_plot("Plain networks: gradient norm by layer")
        self.resnet_plot = self._make_plot("ResNets: gradient norm by layer")
        self.resnet_plot.setYLink(self.plain_plot)  # heights compare across the two
        # ...and the linked y range is ours, the union of both plots' lines: with
        # pyqtgraph's auto-range each plot fitted its own lines and the last one to fit
        # set both, so the ResNets' lines could lie wholly off their plot
        self.following = True  # until the user pans or zooms; "A" starts it again
        for plot in (self.plain_plot, self.resnet_plot):
            plot.vb.enableAutoRange(y=False)
            plot.vb.sigRangeChangedManually.connect(self._on_view_range_changed_manually)
            plot.vb.sigStateChanged.connect(self._on_view_state_changed)
        self.addItem(self.plain_plot, row=0, col=0)
        self.addItem(self.resnet_plot, row=0, col=1)
        # the runs' names in a column right of both plots, which are wide and short: in
        # a plot's corner the legend sat on the lines (gui.plot_legend)
        self.legend = FigureLegend(max_columns=1)
        self.addItem(self.legend, row=0, col=2)
        self.ci.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignVCenter)
        self.setToolTip("The latest log window's mean L2 norm of each conv/fc layer's weight "
                        "gradient, at its depth (log scale). Paper §4.1: with BN the plain "
                        "nets' gradients stay healthy; degradation is not vanishing gradients.")
        self.setMinimumHeight(150)
        self.apply_palette()

    def _make_plot(self, title: str) -> pg.PlotItem:
        # LogAxis: log ticks spaced to the axis' height, no SI prefix (gui.log_axis)
        plot = pg.PlotItem(axisItems={"left": LogAxis("left")})
        plot.setTitle(title, size="9pt")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "depth (weighted layer)")
        plot.setLabel("left", "gradient norm")
        plot.getAxis("left").setWidth(56)  # room for "0.001" and the label
        plot.setLogMode(y=True)
        return plot

    def plot_for(self, plain: bool) -> pg.PlotItem:
        return self.plain_plot if plain else self.resnet_plot

    def line_of(self, name: str) -> pg.PlotDataItem | None:
        """The line drawn for run `name` (tests read its data), or None."""
        line = self._lines.get(name)
        return line.item if line is not None else None

    def redraw(self) -> int:
        """Follow the shown runs: add and remove lines, push changed data. Returns how
        many lines were updated."""
        shown = self._plots.run_names()  # in their order: the legend lists them so
        gone = [n for n in self._lines if n not in shown]
        for name in gone:
            line = self._lines.pop(name)
            self.plot_for(line.plain).removeItem(line.item)
            self.legend.remove(line.item)
        updated = 0
        for name in shown:
            series = self._plots.series(name)
            if series is None:
                continue
            line = self._lines.get(name)
            if line is None:
                line = self._lines[name] = self._add_line(name, series.model, series.plain)
            if series.version == line.drawn_version:
                continue
            line.drawn_version = series.version
            latest = series.latest_grad_norms()
            if latest is None:
                line.item.setData([], [])
                line.norms = np.empty(0)
                continue
            depth, norm = latest
            # log scale: a zero norm (a layer without a gradient) is a gap, not -inf
            line.norms = np.where(norm > 0, norm, np.nan)
            line.item.setData(depth, line.norms)
            updated += 1
        if updated or gone:
            self.fit_y()
        return updated

    def fit_y(self) -> None:
        """Both plots' y range (log10 units) to every line's norms, padded, while they
        follow the data (app.training.plot_ranges)."""
        if not self.following:
            return
        y = fit_y(value_range(*(line.norms for line in self._lines.values()), log=True),
                  "norm", log=True)  # fmt: skip
        set_view_ranges([self.plain_plot.vb, self.resnet_plot.vb], None, y)

    @Slot(object)
    def _on_view_range_changed_manually(self, _mask: object) -> None:
        self.following = False

    @Slot(object)
    def _on_view_state_changed(self, view: pg.ViewBox) -> None:
        # the "A" button and the menu's auto range fit one plot to its own lines: x is
        # pyqtgraph's to fit, y is taken over (the union of both plots)
        if view.autoRangeEnabled()[1]:
            view.enableAutoRange(y=False)
            self.following = True
            self.fit_y()

    def _add_line(self, name: str, model: str, plain: bool) -> _Line:
        color = self._plots.color_of(name) or QColor("#1f77b4")
        item = pg.PlotDataItem(pen=pg.mkPen(color, width=1.8), name=model, symbol="o",
                               symbolSize=4, symbolPen=None, symbolBrush=color)  # fmt: skip
        self.plot_for(plain).addItem(item)
        self.legend.add(item, model)
        item.setLogMode(False, True)
        return _Line(item, plain)

    def apply_palette(self) -> None:
        """Follow the window's light/dark palette (background, axes, titles, legends)."""
        colors = plot_colors()
        self.setBackground(colors["background"])
        pen = pg.mkPen(colors["foreground"])
        for plot in (self.plain_plot, self.resnet_plot):
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(pen)
                plot.getAxis(name).setTextPen(pen)
            plot.titleLabel.setAttr("color", colors["foreground"])
            plot.titleLabel.setText(plot.titleLabel.text)
        self.legend.setLabelTextColor(colors["foreground"])
