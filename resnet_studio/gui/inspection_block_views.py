"""The block-level views of the Inspection panel: a residual block's F(x) / x /
F(x) + x, and Grad-CAM (see `inspection_views` for what every view widget does)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.inspection.jobs import GradCamResult, ModelBundle
from resnet_studio.app.inspection.views import GradCamSettings, ResidualSettings
from resnet_studio.core.inspect import apply_colormap, overlay
from resnet_studio.gui.image_views import ImageView
from resnet_studio.gui.inspection_views import ViewWidget, caption, control_row

if TYPE_CHECKING:
    from resnet_studio.core.predict import ClassScore


def _magnitude_text(m) -> str:
    return "—" if m is None else f"mean |v| {m.mean_abs:.3g} · ‖·‖₂ {m.l2:.3g} · std {m.std:.3g}"


class ResidualPane(ViewWidget):
    """F(x), x and F(x) + x of one block side by side, one colour scale for the three,
    with their magnitudes and ||F(x)|| / ||x||."""

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
        self.note = caption("")
        titles = ("F(x): the residual branch", "x: the shortcut", "F(x) + x, before ReLU")
        self.views = [ImageView("…", hint=220) for _ in titles]
        self.titles = [QLabel(f"<b>{t}</b>") for t in titles]
        self.magnitudes = [caption("") for _ in titles]
        grid = QGridLayout()
        for col, (title, view, mag) in enumerate(zip(self.titles, self.views, self.magnitudes, strict=True)):
            grid.addWidget(title, 0, col)
            grid.addWidget(view, 1, col)
            grid.addWidget(mag, 2, col)
            grid.setColumnStretch(col, 1)
        grid.setRowStretch(1, 1)
        explain = caption(
            "A residual block outputs ReLU(F(x) + x). If the identity is nearly right, training "
            "drives F(x) towards zero (section 3.1), so ‖F(x)‖/‖x‖ is small in trained deep nets. "
            "The three maps share one colour scale."
        )
        explain.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(control_row("Block", self.block_box, "Channel", self.channel_box))
        layout.addWidget(self.ratio)
        layout.addWidget(self.note)
        layout.addLayout(grid, 1)
        layout.addWidget(explain)
        self.block_box.currentIndexChanged.connect(self._on_block_changed)
        self.channel_box.valueChanged.connect(self._on_channel_changed)

    def settings(self) -> ResidualSettings:
        return ResidualSettings(self.block())

    def set_model(self, model: ModelBundle) -> None:
        self.set_blocks(model.blocks, self.block())

    def show_result(self, result: Any) -> None:
        self.show_view(result)

    def painted(self) -> tuple[QWidget, ...]:
        return tuple(self.views)

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

    def clear(self, text: str | None = None) -> None:
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


class GradCamPane(ViewWidget):
    """Grad-CAM of a chosen layer and class over the input as the network saw it.
    The opacity slider re-blends the held heatmap; it never recomputes Grad-CAM."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cam = None
        self._model_name: str | None = None  # the layer choice is kept for the same network
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
        self.caption = caption("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(control_row("Layer", self.layer_box, "Class", self.class_box, self.top_box,
                              "Opacity", self.opacity))  # fmt: skip
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        self.layer_box.currentIndexChanged.connect(self._on_request_control_changed)
        self.class_box.valueChanged.connect(self._on_request_control_changed)
        self.top_box.activated.connect(self._on_top_box_activated)
        self.opacity.valueChanged.connect(self._on_opacity_changed)

    def settings(self) -> GradCamSettings:
        return GradCamSettings(self.layer(), self.class_index())

    def set_model(self, model: ModelBundle) -> None:
        keep = self.layer() if model.name == self._model_name else None
        self._model_name = model.name
        self.set_layers(model.gradcam_layers, model.last_stage, model.num_classes, keep)

    def show_result(self, result: GradCamResult) -> None:
        self.show_cam(result.cam, result.display, result.class_name)

    def painted(self) -> tuple[QWidget, ...]:
        return (self.view,)

    def set_layers(self, layers: list[str], default: str, num_classes: int, keep: str | None) -> None:
        with QSignalBlocker(self.layer_box), QSignalBlocker(self.class_box):
            self.layer_box.clear()
            self.layer_box.addItems(layers)
            self.layer_box.setCurrentText(keep if keep in layers else default)
            self.class_box.setRange(-1, num_classes - 1)
        self.clear()

    def set_top(self, scores: list[ClassScore]) -> None:
        """This image's top classes, offered as quick choices."""
        self.top_box.clear()
        self.top_box.addItem("top 5 of this image…", None)
        for s in scores:
            self.top_box.addItem(f"#{s.index} {s.name} ({s.probability:.1%})", s.index)

    def layer(self) -> str | None:
        return self.layer_box.currentText() or None

    def class_index(self) -> int | None:
        value = self.class_box.value()
        return None if value < 0 else value

    def clear(self, text: str | None = None) -> None:
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
