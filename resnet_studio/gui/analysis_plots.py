"""The Analyze… dialog's plots: lesion curves and the loss landscape, with pyqtgraph.

Each plot is built once; `show_results` replaces its curves' data (a result arrives
once per run, so there is no redraw timer). One colour per network, the same as in
the PNGs the CLI writes (`core.inspect.plot.PALETTE`). A 2D landscape is an image of
log(loss) with iso-curves at even levels, as the PNG contour map.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

from resnet_studio.core.inspect.plot import PALETTE

LEVELS = 12  # iso-curves of a 2D landscape


def _plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    item = plot.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.addLegend(offset=(-10, 10))
    item.setClipToView(True)
    plot.setMinimumHeight(180)
    return plot


def _values(values: list) -> np.ndarray:
    """Floats with NaN for None (a gap in the curve: `connect="finite"`)."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


class _Curves:
    """Curves of one plot, one per network, created on first use and then reused."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot = plot
        self.items: list[pg.PlotDataItem] = []

    def show(self, series: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
        while len(self.items) < len(series):
            colour = PALETTE[len(self.items) % len(PALETTE)]
            self.items.append(self.plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o",
                                             symbolSize=5, symbolBrush=colour, connect="finite",
                                             name=" "))  # fmt: skip
        legend = self.plot.getPlotItem().legend
        for i, item in enumerate(self.items):
            if i < len(series):
                label, x, y = series[i]
                item.setData(x, y, connect="finite")
                item.setVisible(True)
                if legend is not None:
                    legend.removeItem(item)
                    legend.addItem(item, label)
            else:
                item.setData([], [])
                item.setVisible(False)
                if legend is not None:
                    legend.removeItem(item)

    def data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """What the visible curves draw (tests read it)."""
        return [item.getData() for item in self.items if item.isVisible()]


class LesionPlots(QWidget):
    """Error with one block removed, with k random blocks removed, path lengths."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.single_plot = _plot(
            "Test error with one block removed", "block removed", "top-1 error %"
        )
        self.k_plot = _plot(
            "k random blocks removed (mean of the draws)", "blocks removed (k)", "top-1 error %"
        )
        self.paths_plot = _plot("Path lengths (binomial)", "path length (blocks)", "share of paths")
        self.single, self.by_k, self.paths = (
            _Curves(p) for p in (self.single_plot, self.k_plot, self.paths_plot)
        )
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(self.single_plot, 0, 0, 1, 2)
        grid.addWidget(self.k_plot, 1, 0)
        grid.addWidget(self.paths_plot, 1, 1)
        grid.addWidget(self.caption, 2, 0, 1, 2)

    def show_results(self, results: list) -> None:
        """Draw core LesionResults (the model first, then its twin)."""
        self.single.show(
            [(r.model, np.arange(1, len(r.blocks) + 1), _values(r.single)) for r in results]
        )
        self.by_k.show(
            [(r.model, np.arange(1, len(r.mean_k) + 1), _values(r.mean_k)) for r in results]
        )
        shares = [(r.model, np.arange(len(r.path_lengths)),
                   np.array(r.path_lengths, dtype=float) / sum(r.path_lengths)) for r in results]  # fmt: skip
        self.paths.show(shares)
        notes = [f"{r.model}: intact {r.error:.2f} %" for r in results]
        notes += [f"{r.model} cannot remove {', '.join(r.not_skippable)} (they change shape)"
                  for r in results if r.not_skippable]  # fmt: skip
        self.caption.setText("; ".join(notes))


class LandscapePlots(QWidget):
    """1D: loss and accuracy against alpha, one curve per network; 2D: one map of
    log(loss) per network with iso-curves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Loss along a filter-normalised direction", "alpha", "loss")
        self.accuracy_plot = _plot("Accuracy along it", "alpha", "top-1 %")
        self.loss, self.accuracy = _Curves(self.loss_plot), _Curves(self.accuracy_plot)
        self.line_box = QWidget()
        lines = QHBoxLayout(self.line_box)
        lines.setContentsMargins(0, 0, 0, 0)
        lines.addWidget(self.loss_plot, 2)
        lines.addWidget(self.accuracy_plot, 1)
        self.maps_box = QWidget()
        self.maps_layout = QHBoxLayout(self.maps_box)
        self.maps_layout.setContentsMargins(0, 0, 0, 0)
        self.maps: list[pg.PlotWidget] = []
        layout = QVBoxLayout(self)
        layout.addWidget(self.line_box)
        layout.addWidget(self.maps_box)
        self.maps_box.hide()

    def show_results(self, results: list) -> None:
        """Draw core LandscapeResults: lines for 1D ones, maps for 2D ones."""
        lines = [r for r in results if r.dims == 1]
        self.loss.show([(r.model, np.array(r.alphas), np.array(r.loss)) for r in lines])
        self.accuracy.show([(r.model, np.array(r.alphas), np.array(r.accuracy)) for r in lines])
        self.line_box.setVisible(bool(lines))
        grids = [r for r in results if r.dims == 2]
        while len(self.maps) < len(grids):
            plot = _plot("", "alpha", "beta")
            plot.setAspectLocked(True)
            self.maps.append(plot)
            self.maps_layout.addWidget(plot)
        for plot, r in zip(self.maps, grids, strict=False):
            self._draw_map(plot, r)
        for i, plot in enumerate(self.maps):
            plot.setVisible(i < len(grids))
        self.maps_box.setVisible(bool(grids))

    @staticmethod
    def _draw_map(plot: pg.PlotWidget, result) -> None:  # noqa: ANN001
        item = plot.getPlotItem()
        item.clear()
        item.setTitle(f"{result.model}: log loss")
        z = np.log(np.clip(np.array(result.loss, dtype=float), 1e-8, None)).T  # [alpha][beta]
        a0, a1, b0, b1 = result.alphas[0], result.alphas[-1], result.betas[0], result.betas[-1]
        image = pg.ImageItem(z)
        image.setColorMap(pg.colormap.get("viridis"))
        image.setRect(a0, b0, a1 - a0, b1 - b0)
        item.addItem(image)
        lo, hi = float(z.min()), float(z.max())
        for level in np.linspace(lo, hi, LEVELS + 2)[1:-1]:
            # a child of the image: drawn in its pixel coordinates, mapped by setRect
            curve = pg.IsocurveItem(data=z, level=float(level), pen=pg.mkPen("w", width=1))
            curve.setParentItem(image)
            curve.setZValue(10)
