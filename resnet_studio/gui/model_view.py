"""What the Model panel shows about a network: a Table-1-style stage table and the
module tree (the Weights box is `gui/weights_box.py`). Both draw plain values: core's
ModelInfo, at once from the torch-free model table (`app.model.summarize()`), and the
`LayerNode`s of core's one tree builder, built in a worker by `app.model.describe()`
once PyTorch has loaded (until then the tree shows a one-line message).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from resnet_studio.gui.widgets import flops_unit, format_flops, format_int

# ---------------------------------------------------------------------------- stage table

STAGE_COLUMNS = ("Stage", "Output size", "Blocks", "Channels", "Params", "GFLOPs")


def paper_stage_name(name: str) -> str:
    """Table 1 calls the stages conv1, conv2_x..conv5_x; our modules are stem, layer1.."""
    if name == "stem":
        return "conv1 (stem)"
    if name.startswith("layer"):
        return f"conv{int(name[5:]) + 1}_x ({name})"
    if name == "head":
        return "fc (head)"
    return name


class StageTable(QTableWidget):
    """One row per stage, as in the paper's Table 1, and a bold total row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(STAGE_COLUMNS), parent)
        self.setHorizontalHeaderLabels(STAGE_COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(STAGE_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
            self.horizontalHeaderItem(column).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )

    def show_info(self, info: Any) -> None:
        """Fill the rows from core's ModelInfo."""
        stages = list(info.stages)
        unit, scale = flops_unit(info.macs)
        self.horizontalHeaderItem(len(STAGE_COLUMNS) - 1).setText(unit)
        self.setRowCount(len(stages) + 1)
        for row, stage in enumerate(stages):
            size = "—" if stage.name == "head" else f"{stage.output_size}×{stage.output_size}"
            self._set_row(row, (
                paper_stage_name(stage.name), size, str(stage.blocks) if stage.blocks else "—",
                format_int(stage.channels), format_int(stage.params), format_flops(stage.macs, scale),
            ))  # fmt: skip
        blocks = sum(stage.blocks for stage in stages)
        self._set_row(len(stages), (
            "Total", f"{info.input_size}×{info.input_size} in", str(blocks), "",
            format_int(info.params), format_flops(info.macs, scale),
        ), bold=True)  # fmt: skip
        self.resizeRowsToContents()

    def _set_row(self, row: int, values: tuple[str, ...], bold: bool = False) -> None:
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, column, item)


# ---------------------------------------------------------------------------- layer tree


class LayerTree(QTreeWidget):
    """The model's named modules (stem, layer1 > layer1.0 > conv1 ...), collapsible."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(("Module", "Kind", "Params"))
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.headerItem().setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setColumnWidth(0, 200)

    def show_tree(self, nodes: Sequence[Any]) -> None:
        """Show core LayerNode roots (`module_tree`), layer1 > layer1.0 opened."""
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            self.addTopLevelItems([self._item(node) for node in nodes])
            first_stage = self.find_path("layer1")  # show the nesting: layer1 > layer1.0 > conv1
            if first_stage is not None:
                first_stage.setExpanded(True)
                if first_stage.childCount():
                    first_stage.child(0).setExpanded(True)
        finally:
            self.setUpdatesEnabled(True)

    def show_message(self, text: str) -> None:
        """One disabled line instead of a tree ("Loading PyTorch…"), so a tree of the
        previous network never stands under the numbers of the new one."""
        self.clear()
        item = QTreeWidgetItem((text, "", ""))
        item.setDisabled(True)
        self.addTopLevelItem(item)

    def _item(self, node: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem((node.label, node.text, format_int(node.params) if node.params else ""))
        item.setToolTip(0, node.name)  # the qualified name, e.g. "layer1.0.conv1"
        item.setData(0, Qt.ItemDataRole.UserRole, node.name)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.addChildren([self._item(child) for child in node.children])
        return item

    def find_path(self, path: str) -> QTreeWidgetItem | None:
        """The item of a qualified module name, e.g. "layer1.0.conv1" (for tests and links)."""
        items = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        while items:
            item = items.pop()
            if item.data(0, Qt.ItemDataRole.UserRole) == path:
                return item
            items += [item.child(i) for i in range(item.childCount())]
        return None
