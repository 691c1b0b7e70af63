"""Widgets that show numpy images and probabilities: `ImageView`, `ProbabilityBars`.

Core hands images over as uint8 H x W x 3 arrays; these widgets turn them into
pixmaps once and scale at paint time, so resizing the window costs no numpy work.
Small images (a 32 x 32 CIFAR input, a 7 x 7 feature map) are enlarged with nearest
neighbour by default: every pixel the network saw stays a visible square instead of
being blurred into something it never saw.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage owning a copy of a uint8 H x W x 3 (or H x W) array."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.ndim == 2:
        a = np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    height, width = a.shape[:2]
    return QImage(a.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ImageView(QWidget):
    """An image scaled to fit (aspect kept), or a grey placeholder text.

    `clicked(QPointF)` gives the click in image pixel coordinates, so a grid of
    feature maps can tell which map was clicked.
    """

    clicked = Signal(QPointF)

    def __init__(self, placeholder: str = "", *, smooth: bool = False, hint: int = 240,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._placeholder = placeholder
        self._smooth = smooth
        self._hint = hint
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self._hint, self._hint)

    def set_image(self, array: np.ndarray | None, placeholder: str | None = None) -> None:
        """Show `array` (uint8 H x W x 3); None shows the placeholder text."""
        if placeholder is not None:
            self._placeholder = placeholder
        self._pixmap = None if array is None else QPixmap.fromImage(to_qimage(array))
        self.update()

    def has_image(self) -> bool:
        return self._pixmap is not None

    def image_size(self) -> QSize:
        return self._pixmap.size() if self._pixmap is not None else QSize()

    def target_rect(self) -> QRect:
        """Where the image is drawn: as large as fits, centred."""
        if self._pixmap is None or self._pixmap.isNull():
            return QRect()
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - size.width()) // 2
        top = (self.height() - size.height()) // 2
        return QRect(left, top, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        if self._pixmap is None:
            painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            painter.drawText(self.rect().adjusted(6, 6, -6, -6),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)  # fmt: skip
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
        painter.drawPixmap(self.target_rect(), self._pixmap)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        rect = self.target_rect()
        if self._pixmap is None or rect.isEmpty() or not rect.contains(event.position().toPoint()):
            return super().mousePressEvent(event)
        scale = self._pixmap.width() / rect.width()
        pos = event.position()
        self.clicked.emit(QPointF((pos.x() - rect.left()) * scale, (pos.y() - rect.top()) * scale))


class ProbabilityBars(QWidget):
    """Top-k classes as labelled horizontal bars (class name, bar, percentage)."""

    ROW = 24

    def __init__(self, rows: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []
        self._capacity = rows
        self._placeholder = "No predictions yet"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(rows * self.ROW + 4)

    def set_rows(self, rows: list[tuple[str, float]], placeholder: str | None = None) -> None:
        """(label, probability in 0..1) most probable first; empty shows the placeholder."""
        self._rows = list(rows)[: self._capacity]
        if placeholder is not None:
            self._placeholder = placeholder
        self.setToolTip("\n".join(f"{p:6.2%}  {name}" for name, p in self._rows))
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.Text)
        if not self._rows:
            painter.setPen(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self._placeholder)
            return
        metrics = painter.fontMetrics()
        pct_width = metrics.horizontalAdvance("100.0 %") + 6
        name_width = int(self.width() * 0.48)
        bar_left = name_width + 6
        bar_width = max(10, self.width() - bar_left - pct_width)
        bar_color = palette.color(QPalette.ColorRole.Highlight)
        track = palette.color(QPalette.ColorRole.Mid)
        track.setAlpha(70)
        for i, (name, p) in enumerate(self._rows):
            top = i * self.ROW + 2
            text_rect = QRect(0, top, name_width, self.ROW - 4)
            painter.setPen(text_color)
            elided = metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
            bar = QRectF(bar_left, top + 4, bar_width, self.ROW - 12)
            painter.fillRect(bar, track)
            painter.fillRect(QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, p)), bar.height()),
                             bar_color)  # fmt: skip
            painter.drawText(QRect(bar_left + bar_width, top, pct_width, self.ROW - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{p:.1%}")  # fmt: skip
