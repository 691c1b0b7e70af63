"""The left column of the Inspection panel: the input as the network sees it, which
model and weights look at it, warnings, and the top-5."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from resnet_studio.app.inspection.jobs import Analysis, ModelBundle
from resnet_studio.app.inspection.state import InspectImage
from resnet_studio.gui.image_views import ImageView, ProbabilityBars
from resnet_studio.gui.widgets import status_color


class InputColumn(QWidget):
    """Draws the current model (`show_model`) and the current image's analysis
    (`show_analysis`); it holds no state of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView("Drop an image here or anywhere on the window", hint=240)
        self.view.setMinimumSize(200, 200)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.bars = ProbabilityBars()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addWidget(QLabel("<b>Input, as the network sees it</b>"))
        layout.addWidget(self.view, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.model_label)
        layout.addWidget(self.warning)
        layout.addWidget(QLabel("<b>Top-5</b>"))
        layout.addWidget(self.bars)
        self.setMinimumWidth(240)

    def show_model(self, model: ModelBundle) -> None:
        """Name, weights and input size, and a warning when predictions mean little."""
        size = model.preprocessing.input_size
        self.model_label.setText(f"<b>{model.name}</b> · {model.weights_text} · input {size} px")
        warnings = []
        if model.random_weights:
            warnings.append("⚠ Random weights: these predictions mean nothing. Load weights in the "
                            "Model panel or drop a weight file.")  # fmt: skip
        elif not model.predictor.class_names:
            warnings.append("⚠ Class names unknown: classes are shown by index.")
        self.warning.setStyleSheet(f"color: {status_color('error', self.palette()).name()};")
        self.warning.setText(" ".join(warnings))
        self.warning.setVisible(bool(warnings))

    def show_analysis(self, analysis: Analysis | None, image: InspectImage | None,
                      model: ModelBundle | None) -> None:  # fmt: skip
        """The preprocessed input and its top-5; None clears them (no image left)."""
        if analysis is None:
            self.view.set_image(None)
            self.info.setText("")
            self.bars.set_rows([])
            return
        self.view.set_image(analysis.display)
        if image is not None and model is not None:
            prep = model.preprocessing
            self.info.setText(f"{image.label}: {image.size[0]} × {image.size[1]} px → resized to "
                              f"{prep.resize_size}, centre crop {prep.input_size} × {prep.input_size}")  # fmt: skip
        self.bars.set_rows([(s.name, s.probability) for s in analysis.top])

    def painted(self) -> tuple[QWidget, ...]:
        return (self.view, self.bars)
