"""What the Evaluate… dialog draws of an `EvaluationResult`: per-class accuracy as a
sortable table and the confusion matrix as a heat map with the class names on both
axes. The matrix is a model/view table, not one widget item per cell, so ImageNet's
1000 × 1001 cells cost nothing until they scroll into view.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from resnet_studio.app.evaluation_form import confusion_fractions, per_class_rows, percent_text

OTHER_COLUMN = "other"  # predictions that are none of the dataset's classes
WIDE_MATRIX = 20  # classes; above this the columns are narrow and the names in tooltips
NARROW_COLUMN_PX = 44
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class _NumberItem(QTableWidgetItem):
    """A cell that shows text but sorts by a number (NaN last)."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = math.inf if math.isnan(value) else value
        self.setTextAlignment(RIGHT)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumberItem):
            return self.value < other.value
        return super().__lt__(other)


class PerClassTable(QTableWidget):
    """One row per dataset class: its top-1 and how many test images it has; a click
    on a header sorts (worst classes first by clicking Top-1)."""

    COLUMNS = ("Class", "Top-1", "Images")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)  # 1000 rows scroll
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def show_result(self, result: Any) -> None:
        self.setSortingEnabled(False)  # or rows move while they are filled
        rows = per_class_rows(result)
        self.setRowCount(len(rows))
        for row, (name, top1, images) in enumerate(rows):
            self.setItem(row, 0, QTableWidgetItem(name))
            self.setItem(row, 1, _NumberItem(percent_text(top1), top1))
            self.setItem(row, 2, _NumberItem(f"{images:,}", images))
        # dataset order until a header is clicked (enabling sorts by the indicator's column)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)


class ConfusionModel(QAbstractTableModel):
    """Counts [true class][predicted class, then "other"], each cell tinted by the
    fraction of its row (the true class's images) in the palette's highlight colour."""

    def __init__(self, palette: QPalette) -> None:
        super().__init__()
        self._names: list[str] = []
        self._counts: list[list[int]] = []
        self._fractions: list[list[float]] = []
        self._palette = palette

    def set_result(self, result: Any) -> None:
        self.beginResetModel()
        self._names = list(result.class_names)
        self._counts = [list(row) for row in result.confusion]
        self._fractions = confusion_fractions(result)
        self.endResetModel()

    def set_palette(self, palette: QPalette) -> None:
        self._palette = palette
        if self._counts:
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._counts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() or not self._counts else len(self._counts[0])

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            count = self._counts[row][column]
            return f"{count:,}" if count else ""
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._tint(self._fractions[row][column])
        if role == Qt.ItemDataRole.ForegroundRole:
            strong = self._fractions[row][column] > 0.5
            return self._palette.color(QPalette.ColorRole.HighlightedText if strong else QPalette.ColorRole.Text)
        if role == Qt.ItemDataRole.ToolTipRole:
            predicted = self._column_name(column)
            return (f"true {self._names[row]}, predicted {predicted}: {self._counts[row][column]:,} "
                    f"images ({100 * self._fractions[row][column]:.1f} % of {self._names[row]})")  # fmt: skip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Vertical:
            return self._names[section] if section < len(self._names) else None
        return self._column_name(section)

    def _column_name(self, column: int) -> str:
        return self._names[column] if column < len(self._names) else OTHER_COLUMN

    def _tint(self, fraction: float) -> QColor | None:
        if fraction <= 0:
            return None
        color = QColor(self._palette.color(QPalette.ColorRole.Highlight))
        color.setAlphaF(0.12 + 0.88 * fraction)
        return color


class ConfusionView(QTableView):
    """The confusion matrix: rows are the true classes, columns the predicted ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix = ConfusionModel(self.palette())
        self.setModel(self.matrix)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setWordWrap(False)
        self.setToolTip("rows: true class · columns: predicted class · shade: share of the row")

    def show_result(self, result: Any) -> None:
        self.matrix.set_result(result)
        header = self.horizontalHeader()
        if len(result.class_names) <= WIDE_MATRIX:
            self.resizeColumnsToContents()  # the names fit: show them all
        else:
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(NARROW_COLUMN_PX)
        self.resizeRowsToContents()

    def apply_palette(self) -> None:
        self.matrix.set_palette(self.palette())
