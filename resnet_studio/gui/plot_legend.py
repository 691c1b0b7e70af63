"""A legend row outside the plots, so that no legend ever hides a curve.

pyqtgraph's `PlotItem.addLegend` anchors the legend inside the view box, in a
corner, with a nearly opaque background. The training plots had theirs top right,
where Figure 6's curves end: the last 40 % of the error curves and the last 15 % of
the loss curves were painted over (docs/training-panel.png showed test error
"stopping" at iteration 600 of 1000), the loss legend with four runs was taller than
its plot and lost its last entry, and the gradient view's legends sat on its lines.

`FigureLegend` is one `LegendItem` placed in its own cell of a `GraphicsLayout`
(matplotlib's `fig.legend(loc="upper center", ncol=n)`): in a row above the plots,
one entry per run, as many columns as the width holds, more rows only when it must;
or a column beside them, where height is short (the gradient view). Being outside
every view box, it hides nothing, and it shows in exported images (it is in the scene).
"""

from __future__ import annotations

from PySide6.QtCore import QSizeF, Qt
from PySide6.QtWidgets import QSizePolicy

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

__all__ = ["FigureLegend"]

ENTRY_GAP = 14  # pixels between two entries of a row


class FigureLegend(pg.LegendItem):
    """A frameless legend for a layout cell: `add(item, name)`, `remove(item)`, and
    `fit_width(pixels)` when the row's width changes (the widget's resize).
    `max_columns=1` makes a column, for a cell beside the plots."""

    def __init__(self, label_size: str = "8pt", max_columns: int | None = None) -> None:
        super().__init__(offset=None, frame=False, labelTextSize=label_size, horSpacing=4,
                         verSpacing=-6)  # fmt: skip
        self.layout.setContentsMargins(0, 0, 0, 0)
        self._width = 0.0
        self._max_columns = max_columns
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def add(self, item: pg.PlotDataItem, name: str) -> None:
        """One entry drawn like `item` (its pen and symbol), labelled `name`."""
        self.addItem(item, name)
        self._fit()

    def remove(self, item: pg.PlotDataItem) -> None:
        self.removeItem(item)
        self._fit()

    def names(self) -> list[str]:
        """The labels, in their order (tests and the panel read them)."""
        return [label.text for _sample, label in self.items]

    def fit_width(self, pixels: float) -> None:
        """Lay the entries out in as many columns as `pixels` hold."""
        self._width = float(pixels)
        self._fit()

    def _fit(self) -> None:
        if not self.items:
            self.setColumnCount(1)
            self.updateSize()
            return
        widest = max(s.boundingRect().width() + 4 + label.boundingRect().width()
                     for s, label in self.items) + ENTRY_GAP  # fmt: skip
        columns = int(self._width // widest) if self._width > 0 else len(self.items)
        columns = min(len(self.items), columns, self._max_columns or len(self.items))
        self.setColumnCount(max(1, columns))
        self.updateSize()

    def updateSize(self) -> None:
        # pyqtgraph sizes a legend by setGeometry from its entries' current sizes (0 until
        # its layout ran); in a layout row the row must take the entries' preferred size
        # instead, and no size at all without entries
        if self.items:
            self.layout.invalidate()
            size = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize)
        else:
            size = QSizeF(0.0, 0.0)
        self.setMinimumSize(size)
        self.setMaximumSize(size)
        self.setPreferredSize(size)
        self.resize(size)
