"""A pyqtgraph axis whose log-mode ticks never overlap (app.training.log_ticks).

In log mode `LogAxis` asks `log_ticks` for ticks spaced at least one label height
apart on the axis' current length and writes them with `tick_labels`; grid lines
follow the same ticks. It has no SI prefix (in log mode pyqtgraph's prefix scaled the
tick values and added "(x0.001)" to the label). In linear mode it is pyqtgraph's axis.
"""

from __future__ import annotations

from PySide6.QtGui import QFontMetricsF

# isort: split
import pyqtgraph as pg  # after PySide6, so pyqtgraph binds to it

from resnet_studio.app.training.log_ticks import log_ticks, tick_labels

__all__ = ["LogAxis"]

LABEL_GAP = 4  # pixels of air between two tick labels


class LogAxis(pg.AxisItem):
    """A left or bottom axis with readable log ticks."""

    def __init__(self, orientation: str, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def label_pixels(self) -> float:
        """The room one tick label needs along the axis, in pixels."""
        metrics = QFontMetricsF(self.style.get("tickFont") or self.font())
        if self.orientation in ("left", "right"):
            return metrics.height() + LABEL_GAP
        return metrics.horizontalAdvance("2·10⁻⁵") + LABEL_GAP

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        return [(1.0, log_ticks(low, high, size, self.label_pixels()))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return tick_labels([10.0**value for value in values])
