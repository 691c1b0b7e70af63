"""The per-image views of the Inspection panel: layer activations, a residual block's
F(x) / x / F(x) + x, and Grad-CAM.

Each view owns its controls and draws what the panel hands it; it never computes
with the model. Controls that need a new forward pass emit `request_changed`; those
that only change the look (colours, scale, channel, opacity) re-draw from the result
already held, so they answer at once and never queue a job.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.inspect import COLORMAPS, apply_colormap, overlay, render_grid
from resnet_studio.gui.image_views import ImageView

ORDER_CHOICES = (("first channels", "index"), ("strongest (mean)", "mean"), ("strongest (peak)", "max"))
MAP_COUNTS = (16, 32, 64)
GRID_MIN_CELL, GRID_GAP = 48, 2  # render_grid's defaults: the click maths below needs them


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _row(*widgets: QWidget | str) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(QLabel(widget) if isinstance(widget, str) else widget)
    row.addStretch(1)
    return row


def _shape_text(shape) -> str:
    return " × ".join(str(s) for s in shape) if shape else ""


# ----------------------------------------------------------------------------- activations


class ActivationsView(QWidget):
    """The layer tree, the chosen layer's feature maps as a grid, one map enlarged."""

    request_changed = Signal()  # layer, order or count: needs a new forward

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
        self.info = _caption("Select a layer in the tree.")
        self.grid = ImageView("Drop an image on the window to see this layer's feature maps.", hint=420)
        self.grid.setCursor(Qt.CursorShape.PointingHandCursor)
        self.grid.setToolTip("Click a map to enlarge it")
        self.detail = ImageView("Click a map to enlarge it", hint=200)
        self.detail_info = _caption("")

        controls = _row("Show", self.count_box, self.order_box, "Colours", self.colormap_box, self.shared_box)
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
        self.shared_box.toggled.connect(self._on_colour_control_changed)
        self.grid.clicked.connect(self._on_grid_clicked)

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
        if current is not None and current.data(0, Qt.ItemDataRole.UserRole):
            self._selected = 0
            self.request_changed.emit()

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

    def selected_map(self) -> int:
        return self._selected

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


# ----------------------------------------------------------------------------- residual


def _magnitude_text(m) -> str:
    return "—" if m is None else f"mean |v| {m.mean_abs:.3g} · ‖·‖₂ {m.l2:.3g} · std {m.std:.3g}"


class ResidualPane(QWidget):
    """F(x), x and F(x) + x of one block side by side, one colour scale for the three,
    with their magnitudes and ||F(x)|| / ||x||."""

    request_changed = Signal()  # another block

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view = None
        self._colormap = "viridis"
        self.block_box = QComboBox()
        self.block_box.setMinimumContentsLength(10)
        self.channel_box = QSpinBox()
        self.channel_box.setRange(-1, 0)
        self.channel_box.setSpecialValueText("mean over channels")
        self.channel_box.setValue(-1)
        self.channel_box.setToolTip("Show one channel, or the mean over all channels (-1)")
        self.ratio = QLabel("‖F(x)‖ / ‖x‖ = …")
        font = self.ratio.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.ratio.setFont(font)
        self.note = _caption("")
        titles = ("F(x): the residual branch", "x: the shortcut", "F(x) + x, before ReLU")
        self.views = [ImageView("…", hint=220) for _ in titles]
        self.titles = [QLabel(f"<b>{t}</b>") for t in titles]
        self.magnitudes = [_caption("") for _ in titles]
        grid = QGridLayout()
        for col, (title, view, mag) in enumerate(zip(self.titles, self.views, self.magnitudes, strict=True)):
            grid.addWidget(title, 0, col)
            grid.addWidget(view, 1, col)
            grid.addWidget(mag, 2, col)
            grid.setColumnStretch(col, 1)
        grid.setRowStretch(1, 1)
        explain = _caption(
            "A residual block outputs ReLU(F(x) + x). If the identity is nearly right, training "
            "drives F(x) towards zero (section 3.1), so ‖F(x)‖/‖x‖ is small in trained deep nets. "
            "The three maps share one colour scale."
        )
        explain.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(_row("Block", self.block_box, "Channel", self.channel_box))
        layout.addWidget(self.ratio)
        layout.addWidget(self.note)
        layout.addLayout(grid, 1)
        layout.addWidget(explain)
        self.block_box.currentIndexChanged.connect(self._on_block_changed)
        self.channel_box.valueChanged.connect(self._on_channel_changed)

    def set_blocks(self, blocks: list[str], keep: str | None) -> None:
        with QSignalBlocker(self.block_box):
            self.block_box.clear()
            self.block_box.addItems(blocks)
            if keep in blocks:
                self.block_box.setCurrentText(keep)
        self.clear()

    def block(self) -> str | None:
        return self.block_box.currentText() or None

    def select_block(self, block: str) -> None:
        if block != self.block() and self.block_box.findText(block) >= 0:
            self.block_box.setCurrentText(block)

    def set_colormap(self, name: str) -> None:
        self._colormap = name
        self._draw()

    def clear(self) -> None:
        self._view = None
        for view in self.views:
            view.set_image(None, "…")
        for label in self.magnitudes:
            label.setText("")
        self.ratio.setText("‖F(x)‖ / ‖x‖ = …")
        self.note.setText("")

    def show_view(self, view) -> None:
        """Show core's ResidualView."""
        self._view = view
        channels = view.residual.shape[0]
        with QSignalBlocker(self.channel_box):
            self.channel_box.setRange(-1, channels - 1)
        if view.ratio is None:
            self.ratio.setText("‖F(x)‖ / ‖x‖: no x in a plain net")
        else:
            self.ratio.setText(f"‖F(x)‖ / ‖x‖ = {view.ratio:.3f}   ({view.block})")
        self.note.setText(view.note)
        self.note.setVisible(bool(view.note))
        mags = (view.residual_magnitude, view.identity_magnitude, view.sum_magnitude)
        for label, m in zip(self.magnitudes, mags, strict=True):
            label.setText(_magnitude_text(m))
        self.titles[2].setText("<b>F(x) + x, before ReLU</b>" if view.identity is not None
                               else "<b>F(x), before ReLU (no shortcut)</b>")  # fmt: skip
        self._draw()

    def shown_maps(self) -> int:
        return sum(view.has_image() for view in self.views)

    def _draw(self) -> None:
        view = self._view
        if view is None:
            return
        c = self.channel_box.value()
        arrays = [view.residual, view.identity, view.sum]
        planes = [None if a is None else (a.mean(0) if c < 0 else a[c]) for a in arrays]
        present = [p for p in planes if p is not None]
        lo = min(float(p.min()) for p in present)
        hi = max(float(p.max()) for p in present)
        span = hi - lo if hi > lo else 1.0
        for image_view, plane in zip(self.views, planes, strict=True):
            if plane is None:
                image_view.set_image(None, "plain net: no shortcut, so no x")
            else:
                image_view.set_image(apply_colormap((plane - lo) / span, self._colormap))

    @Slot()
    def _on_block_changed(self) -> None:
        self.request_changed.emit()

    @Slot()
    def _on_channel_changed(self) -> None:
        self._draw()


# ----------------------------------------------------------------------------- Grad-CAM


class GradCamPane(QWidget):
    """Grad-CAM of a chosen layer and class over the input as the network saw it.
    The opacity slider re-blends the held heatmap; it never recomputes Grad-CAM."""

    request_changed = Signal()  # layer or class

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cam = None
        self._display: np.ndarray | None = None
        self.layer_box = QComboBox()
        self.layer_box.setMinimumContentsLength(10)
        self.class_box = QSpinBox()
        self.class_box.setRange(-1, 0)
        self.class_box.setSpecialValueText("top class")
        self.class_box.setValue(-1)
        self.class_box.setToolTip("The class whose evidence is shown: the most probable one, or any index")
        self.top_box = QComboBox()
        self.top_box.setToolTip("Pick one of this image's most probable classes")
        self.top_box.setMinimumContentsLength(16)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(140)
        self.view = ImageView("Grad-CAM appears here for the selected image.", smooth=True, hint=380)
        self.caption = _caption("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(_row("Layer", self.layer_box, "Class", self.class_box, self.top_box,
                              "Opacity", self.opacity))  # fmt: skip
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        self.layer_box.currentIndexChanged.connect(self._on_request_control_changed)
        self.class_box.valueChanged.connect(self._on_request_control_changed)
        self.top_box.activated.connect(self._on_top_box_activated)
        self.opacity.valueChanged.connect(self._on_opacity_changed)

    def set_layers(self, layers: list[str], default: str, num_classes: int, keep: str | None) -> None:
        with QSignalBlocker(self.layer_box), QSignalBlocker(self.class_box):
            self.layer_box.clear()
            self.layer_box.addItems(layers)
            self.layer_box.setCurrentText(keep if keep in layers else default)
            self.class_box.setRange(-1, num_classes - 1)
        self.clear()

    def set_top(self, rows: list[tuple[int, str, float]]) -> None:
        """This image's top classes, offered as quick choices."""
        self.top_box.clear()
        self.top_box.addItem("top 5 of this image…", None)
        for index, name, p in rows:
            self.top_box.addItem(f"#{index} {name} ({p:.1%})", index)

    def layer(self) -> str | None:
        return self.layer_box.currentText() or None

    def class_index(self) -> int | None:
        value = self.class_box.value()
        return None if value < 0 else value

    def set_class_index(self, index: int | None) -> None:
        self.class_box.setValue(-1 if index is None else index)

    def clear(self) -> None:
        self._cam = None
        self.view.set_image(None)
        self.caption.setText("")

    def show_cam(self, cam, display: np.ndarray, class_name: str) -> None:
        """Show core's GradCam over `display` (the network's input, uint8)."""
        if display.shape[0] < 224:  # a CIFAR input: enlarge (pixels stay square) so the heatmap blends smoothly
            factor = -(-224 // display.shape[0])
            display = display.repeat(factor, axis=0).repeat(factor, axis=1)
        self._cam, self._display = cam, display
        empty = " — no positive evidence at this layer (all zeros)" if cam.empty else ""
        self.caption.setText(f"<b>{class_name}</b> (#{cam.class_index}) · p = {cam.probability:.1%} · "
                             f"logit {cam.score:.3g} · layer {cam.layer}{empty}")  # fmt: skip
        self._blend()

    def shown_class(self) -> int | None:
        return None if self._cam is None else self._cam.class_index

    def _blend(self) -> None:
        if self._cam is not None and self._display is not None:
            self.view.set_image(overlay(self._display, self._cam.heatmap, self.opacity.value() / 100.0))

    @Slot()
    def _on_request_control_changed(self) -> None:
        self.request_changed.emit()

    @Slot(int)
    def _on_top_box_activated(self, row: int) -> None:
        index = self.top_box.itemData(row)
        if index is not None:
            self.class_box.setValue(int(index))

    @Slot(int)
    def _on_opacity_changed(self, value: int) -> None:
        self._blend()
