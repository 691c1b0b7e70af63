"""The views of the Inspection panel share one shape (`ViewWidget`); the layer
activations view lives here, the others in `inspection_block_views` and
`inspection_compare`.

Each view owns its controls and draws the result of its job
(`app.inspection.views`); it never computes with the model. Controls that need a new
job emit `request_changed` and show in `settings()`; those that only change the
look (colours, scale, channel, opacity) re-draw from the result already held, so
they answer at once and never queue a job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.inspection.jobs import Analysis, ModelBundle
from resnet_studio.app.inspection.views import AnalysisSettings
from resnet_studio.core.inspect import COLORMAPS, apply_colormap, render_grid
from resnet_studio.gui.image_views import ImageView

ORDER_CHOICES = (("first channels", "index"), ("strongest (mean)", "mean"), ("strongest (peak)", "max"))
MAP_COUNTS = (16, 32, 64)
GRID_MIN_CELL, GRID_GAP = 48, 2  # render_grid's defaults: the click maths below needs them


class ViewWidget(QWidget):
    """What the panel needs of a view's widget; the defaults suit a view that has
    no settings, no model-dependent controls and no progress to show."""

    request_changed = Signal()  # the settings changed: a new job is needed

    def settings(self) -> Any:
        """What the controls ask for (the view's settings dataclass)."""
        raise NotImplementedError

    def set_model(self, model: ModelBundle) -> None:
        """A new model: offer its layers, keeping the choice where it still exists."""

    def show_result(self, result: Any) -> None:
        """Draw the result of the view's job."""
        raise NotImplementedError

    def painted(self) -> tuple[QWidget, ...]:
        """The widgets a result changes (repainted at once to time the latency)."""
        return (self,)

    def clear(self, text: str | None = None) -> None:
        """Show nothing (with `text` as the placeholder, where the view has one)."""

    def set_pending(self) -> None:
        """Its job was queued."""

    def set_progress(self, done: int, total: int) -> None:
        """Its job reported `progress(done, total)`."""

    def show_failure(self, text: str) -> None:
        """Its job failed (the panel also says so in its message line)."""


def caption(text: str) -> QLabel:
    """A wrapping, selectable label for a view's explanations and numbers."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def control_row(*widgets: QWidget | str) -> QHBoxLayout:
    """A row of controls; strings become their labels."""
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(QLabel(widget) if isinstance(widget, str) else widget)
    row.addStretch(1)
    return row


def _shape_text(shape) -> str:
    return " × ".join(str(s) for s in shape) if shape else ""


# ----------------------------------------------------------------------------- activations


class ActivationsView(ViewWidget):
    """The layer tree, the chosen layer's feature maps as a grid, one map enlarged.
    `layer_selected(name)` when a layer is chosen in the tree; `colormap_changed(name)`
    when the colours change (other views follow them)."""

    layer_selected = Signal(str)
    colormap_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._maps = None  # core FeatureMaps shown
        self._columns = 1
        self._selected = 0
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Layer", "Output C × H × W"])
        self.tree.setColumnWidth(0, 205)
        self.tree.setUniformRowHeights(True)
        self.order_box = QComboBox()
        for text, key in ORDER_CHOICES:
            self.order_box.addItem(text, key)
        self.order_box.setToolTip("Which channels: the first ones, or the most active for this image")
        self.count_box = QComboBox()
        for n in MAP_COUNTS:
            self.count_box.addItem(str(n), n)
        self.count_box.setCurrentIndex(len(MAP_COUNTS) - 1)
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(list(COLORMAPS))
        self.shared_box = QCheckBox("shared scale")
        self.shared_box.setChecked(True)
        self.shared_box.setToolTip("One colour scale for all maps (compare strengths), or each map "
                                   "stretched to its own range (see each pattern)")  # fmt: skip
        self.info = caption("Select a layer in the tree.")
        self.grid = ImageView("Drop an image on the window to see this layer's feature maps.", hint=420)
        self.grid.setCursor(Qt.CursorShape.PointingHandCursor)
        self.grid.setToolTip("Click a map to enlarge it")
        self.detail = ImageView("Click a map to enlarge it", hint=200)
        self.detail_info = caption("")

        controls = control_row("Show", self.count_box, self.order_box, "Colours", self.colormap_box, self.shared_box)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addLayout(controls)
        middle_layout.addWidget(self.info)
        middle_layout.addWidget(self.grid, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.detail, 1)
        side_layout.addWidget(self.detail_info)
        splitter = QSplitter()
        splitter.addWidget(self.tree)
        splitter.addWidget(middle)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 400, 180])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.order_box.currentIndexChanged.connect(self._on_request_control_changed)
        self.count_box.currentIndexChanged.connect(self._on_request_control_changed)
        self.colormap_box.currentIndexChanged.connect(self._on_colour_control_changed)
        self.colormap_box.currentTextChanged.connect(self.colormap_changed)
        self.shared_box.toggled.connect(self._on_colour_control_changed)
        self.grid.clicked.connect(self._on_grid_clicked)

    # ------------------------------------------------------------------ view
    def settings(self) -> AnalysisSettings:
        return AnalysisSettings(self.layer(), self.order(), self.max_maps(), self.colormap(), self.shared_scale())

    def set_model(self, model: ModelBundle) -> None:
        self.set_tree(model.tree, self.layer())

    def show_result(self, result: Analysis) -> None:
        self.show_maps(result.maps, result.grid, result.columns)

    def painted(self) -> tuple[QWidget, ...]:
        return (self.grid,)

    # ------------------------------------------------------------------ state
    def set_tree(self, roots: list, keep: str | None) -> None:
        """Fill the tree from core's LayerNode roots; select `keep` if it exists, else
        the first stage. Only rows with a feature map are selectable."""
        with QSignalBlocker(self.tree):
            self.tree.clear()
            chosen = None
            for root in roots:
                item = self._add_node(self.tree.invisibleRootItem(), root)
                item.setExpanded(root.kind in ("stage", "stem"))
            names = {item.data(0, Qt.ItemDataRole.UserRole): item for item in self._items()}
            names.pop(None, None)
            chosen = names.get(keep) if keep else None
            if chosen is None:
                chosen = names.get("layer1") or next(iter(names.values()), None)
            if chosen is not None:
                self.tree.setCurrentItem(chosen)
                self.tree.scrollToItem(chosen)
        self._maps = None

    def _add_node(self, parent: QTreeWidgetItem, node) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [node.label, _shape_text(node.shape)])
        item.setToolTip(0, f"{node.label}\n{node.name}" if node.name else node.label)
        item.setData(0, Qt.ItemDataRole.UserRole, node.name if node.readable and node.name else None)
        if not (node.readable and node.name):
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            item.setForeground(0, self.palette().brush(self.palette().ColorGroup.Disabled,
                                                       self.palette().ColorRole.Text))  # fmt: skip
        for child in node.children:
            self._add_node(item, child)
        return item

    def _items(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop(0)
            yield item
            stack[0:0] = [item.child(i) for i in range(item.childCount())]

    def layer(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def select_layer(self, name: str) -> bool:
        for item in self._items():
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                self.tree.setCurrentItem(item)
                return True
        return False

    def order(self) -> str:
        return self.order_box.currentData()

    def max_maps(self) -> int:
        return int(self.count_box.currentData())

    def colormap(self) -> str:
        return self.colormap_box.currentText()

    def shared_scale(self) -> bool:
        return self.shared_box.isChecked()

    def clear(self, text: str | None = None) -> None:
        self._maps = None
        self.grid.set_image(None, text)
        self.detail.set_image(None)
        self.detail_info.setText("")

    def show_maps(self, maps, grid: np.ndarray, columns: int) -> None:
        """Show core FeatureMaps and the grid already rendered in the worker."""
        self._maps, self._columns = maps, columns
        self._selected = min(self._selected, len(maps.channels) - 1)
        order = dict((key, text) for text, key in ORDER_CHOICES)[self.order()]
        self.info.setText(f"<b>{maps.layer}</b> · {_shape_text(maps.shape)} · showing "
                          f"{len(maps.channels)} of {maps.total_channels} channels ({order})")  # fmt: skip
        self.grid.set_image(grid)
        self._show_detail()

    # ------------------------------------------------------------------ slots
    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_tree_current_changed(self, current, previous) -> None:
        name = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else None
        if name:
            self._selected = 0
            self.request_changed.emit()
            self.layer_selected.emit(name)

    @Slot()
    def _on_request_control_changed(self) -> None:
        self._selected = 0
        self.request_changed.emit()

    @Slot()
    def _on_colour_control_changed(self) -> None:
        if self._maps is not None:
            grid = render_grid(self._maps, self.colormap(), self.shared_scale(), columns=self._columns)
            self.grid.set_image(grid)
            self._show_detail()

    @Slot(QPointF)
    def _on_grid_clicked(self, pos: QPointF) -> None:
        index = self.map_at(pos.x(), pos.y())
        if index is not None:
            self._selected = index
            self._show_detail()

    def map_at(self, x: float, y: float) -> int | None:
        """Which map of the grid lies under image pixel (x, y), if any."""
        if self._maps is None:
            return None
        h, w = self._maps.maps.shape[1:]
        scale = max(1, -(-GRID_MIN_CELL // max(h, w)))
        cell_w, cell_h = w * scale + GRID_GAP, h * scale + GRID_GAP
        col, row = int((x - GRID_GAP) // cell_w), int((y - GRID_GAP) // cell_h)
        index = row * self._columns + col
        inside = 0 <= col < self._columns and x >= GRID_GAP and y >= GRID_GAP
        return index if inside and 0 <= index < len(self._maps.channels) else None

    def _show_detail(self) -> None:
        maps, k = self._maps, self._selected
        if maps is None:
            return
        m = maps.maps[k]
        if self.shared_scale():
            lo, hi = float(maps.maps.min()), float(maps.maps.max())
        else:
            lo, hi = float(m.min()), float(m.max())
        self.detail.set_image(apply_colormap((m - lo) / (hi - lo if hi > lo else 1.0), self.colormap()))
        self.detail_info.setText(
            f"<b>channel {int(maps.channels[k])}</b> of {maps.total_channels} · {m.shape[0]}×{m.shape[1]}<br>"
            f"min {maps.minimum[k]:.3g} · max {maps.maximum[k]:.3g} · mean {maps.mean[k]:.3g}"
        )
