"""The strip of thumbnails along the top of the Inspection panel.

A QListWidget in icon mode, one row that scrolls sideways, so dropping a folder of
200 photos does not push the views off the screen. Items carry the panel's image id
(`Qt.UserRole`), never the image itself: the panel owns the decoded images.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from resnet_studio.gui.image_views import to_qimage

ICON = 64


class ImageStrip(QListWidget):
    """Thumbnails of the loaded images. `image_selected(id)` when the user (or code)
    selects one; `remove_requested(id)` on Delete."""

    image_selected = Signal(int)
    remove_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 28, ICON + 24))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setAcceptDrops(False)  # drops go to the main window, which routes them
        self.setFixedHeight(ICON + 24 + self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth())
        self.currentItemChanged.connect(self._on_current_item_changed)

    def add_image(self, image_id: int, label: str, thumb: np.ndarray, tooltip: str) -> QListWidgetItem:
        item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(thumb))), label)
        item.setData(Qt.ItemDataRole.UserRole, image_id)
        item.setToolTip(tooltip)
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.addItem(item)
        return item

    def select_image(self, image_id: int) -> None:
        for row in range(self.count()):
            if self.item(row).data(Qt.ItemDataRole.UserRole) == image_id:
                self.setCurrentRow(row)
                self.scrollToItem(self.item(row))
                return

    def remove_image(self, image_id: int) -> None:
        for row in range(self.count()):
            if self.item(row).data(Qt.ItemDataRole.UserRole) == image_id:
                self.takeItem(row)
                return

    def current_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def ids(self) -> list[int]:
        return [int(self.item(r).data(Qt.ItemDataRole.UserRole)) for r in range(self.count())]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        current = self.current_id()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and current is not None:
            self.remove_requested.emit(current)
            return
        super().keyPressEvent(event)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(self, current: QListWidgetItem | None, previous) -> None:
        if current is not None:
            self.image_selected.emit(int(current.data(Qt.ItemDataRole.UserRole)))
