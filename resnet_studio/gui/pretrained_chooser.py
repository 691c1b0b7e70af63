"""The Pretrained chooser of the Model panel's Weights box: the catalog of published
checkpoints (`core.weights.pretrained`), grouped by training data, with each one's
network, published top-1 and whether its file is already on this machine.

It only lists and asks: a double-click or "Load pretrained" emits `load_requested`
with the catalog name, and the Weights box downloads and loads it in a worker. The
catalog is read without torch, so the list is filled as soon as the panel exists.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.weights.pretrained import (
    PretrainedEntry,
    cache_path,
    find_pretrained,
    get_pretrained,
    is_cached,
)

COLUMNS = ("Checkpoint", "Network", "Top-1", "Cached")
NAME_ROLE = Qt.ItemDataRole.UserRole  # a row's catalog name; None on group headers
CACHED_MARK = "✓"


def entry_tooltip(entry: PretrainedEntry) -> str:
    """Everything a user judges a checkpoint by, for the row's tooltip."""
    top5 = f", top-5 {entry.top5:.2f} %" if entry.top5 is not None else ""
    top1 = f"top-1 {entry.top1:.2f} %{top5}" if entry.top1 is not None else "no published accuracy"
    size = entry.preprocessing.input_size
    return (f"<b>{entry.name}</b> ({entry.source})<br>{entry.model}, {entry.num_classes:,} classes, "
            f"input {size}×{size} px, trained on {entry.dataset}<br>published {top1}<br>"
            f"in {entry.published_in}<br>licence: {entry.licence}<br>"
            f"file: {cache_path(entry)}")  # fmt: skip


class PretrainedChooser(QWidget):
    """A filter box, the catalog as a tree (one group per training dataset) and a
    "Load pretrained" button.

    Signals:
        load_requested(name): the user chose the checkpoint `name` (double-click or button).
    """

    load_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter pretrained: name, network, dataset…")
        self.filter_edit.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setMinimumHeight(160)
        self.tree.setIndentation(12)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # both ends of a name tell
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.load_button = QPushButton("Load pretrained")
        self.load_button.setToolTip("Download the chosen checkpoint (once, into torch.hub's "
                                    "cache) and load it with its class names")  # fmt: skip
        self.load_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.tree, 1)
        self._busy = False
        self.filter_edit.textChanged.connect(self._on_filter_text_changed)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.fill()

    # ------------------------------------------------------------------ public API
    def fill(self, text: str = "") -> None:
        """List the entries matching `text` (all when empty), grouped by dataset."""
        chosen = self.selected_name()
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for entry in find_pretrained(text):  # grouped by DATASET_ORDER already
            group = groups.get(entry.dataset)
            if group is None:
                group = groups[entry.dataset] = self._group_item(entry.dataset)
            group.addChild(self._entry_item(entry))
        for group in groups.values():
            group.setText(0, f"{group.text(0)} ({group.childCount()})")
            group.setExpanded(True)
        if chosen is not None:
            self.select(chosen)
        self._update_button()

    def refresh_cached(self) -> None:
        """Re-check which files are on this machine (after a download or a cancel)."""
        for item in self._entry_items():
            entry = get_pretrained(item.data(0, NAME_ROLE))
            item.setText(3, CACHED_MARK if is_cached(entry) else "")
            item.setToolTip(0, entry_tooltip(entry))

    def selected_name(self) -> str | None:
        """The catalog name of the highlighted row, or None (nothing, or a group)."""
        item = self.tree.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def select(self, name: str) -> bool:
        """Highlight the row of `name`, if it is listed."""
        for item in self._entry_items():
            if item.data(0, NAME_ROLE) == name:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
                return True
        return False

    def set_busy(self, busy: bool) -> None:
        """While weights load or save: no second job."""
        self._busy = busy
        self._update_button()

    # ------------------------------------------------------------------ items
    def _group_item(self, dataset: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem((dataset, "", "", ""))
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a header: not selectable
        self.tree.addTopLevelItem(item)
        return item

    def _entry_item(self, entry: PretrainedEntry) -> QTreeWidgetItem:
        top1 = f"{entry.top1:.2f}" if entry.top1 is not None else "—"
        item = QTreeWidgetItem((entry.name, entry.model, top1, CACHED_MARK if is_cached(entry) else ""))
        item.setData(0, NAME_ROLE, entry.name)
        item.setToolTip(0, entry_tooltip(entry))
        item.setToolTip(2, f"published top-1, in {entry.published_in}")
        item.setToolTip(3, "on this machine: loads without the network" if is_cached(entry)
                        else "not downloaded yet")  # fmt: skip
        for column in (2, 3):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _entry_items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(g).child(i)
                for g in range(self.tree.topLevelItemCount())
                for i in range(self.tree.topLevelItem(g).childCount())]  # fmt: skip

    def _update_button(self) -> None:
        self.load_button.setEnabled(not self._busy and self.selected_name() is not None)

    # ------------------------------------------------------------------ slots
    @Slot(str)
    def _on_filter_text_changed(self, text: str) -> None:
        self.fill(text)

    @Slot(QTreeWidgetItem, int)
    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        name = item.data(0, NAME_ROLE)
        if name is not None and not self._busy:
            self.load_requested.emit(name)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_tree_current_changed(self, _current: QTreeWidgetItem, _previous: QTreeWidgetItem) -> None:
        self._update_button()

    @Slot()
    def _on_load_clicked(self) -> None:
        name = self.selected_name()
        if name is not None and not self._busy:
            self.load_requested.emit(name)
