"""The Inspection panel: drop images on the window and see what the network sees.

The input as the network sees it, top-5 with probability bars, a layer's feature
maps, a residual block's F(x) / x / F(x) + x, Grad-CAM, the paper's Figure 7 and a
two-model comparison. The panel only draws: what to compute and whether a view is
fresh is the business of `app.inspection.state.InspectionState`, what each view is
and which job computes it of the registry `app.inspection.views`, and the jobs
(`app.inspection.jobs`) run in worker threads through one `JobQueue`, so the panel
never freezes.

It follows the shared `ModelState` of its `PanelContext` (the Model panel changes
it): a change rebuilds the panel's own copy of the network after a short settle.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.app.inspection import jobs, views
from resnet_studio.app.inspection.state import InspectImage, InspectionState, ViewKey
from resnet_studio.app.inspection.views import ANALYSIS, VIEWS
from resnet_studio.core.errors import StudioError
from resnet_studio.core.samples import sample_paths
from resnet_studio.gui.image_strip import ImageStrip
from resnet_studio.gui.inspection_block_views import GradCamPane, ResidualPane
from resnet_studio.gui.inspection_compare import CompareBar, ComparePane, Figure7Pane
from resnet_studio.gui.inspection_input import InputColumn
from resnet_studio.gui.inspection_views import ActivationsView, ViewWidget
from resnet_studio.gui.job_queue import JobQueue
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.widgets import status_color

TITLE = "Inspection"
MODEL_DELAY_MS = 150  # let the Model panel's depth box settle before rebuilding
# The widget that draws each view of the registry (one line per view).
VIEW_WIDGETS: dict[str, type[ViewWidget]] = {
    ANALYSIS: ActivationsView, "residual": ResidualPane, "gradcam": GradCamPane,
    "figure7": Figure7Pane, "compare": ComparePane,
}  # fmt: skip


class InspectionPanel(QWidget):
    """Signals: `results_shown(kind, ms)` once a result is painted, with the time since
    the request (drop, selection or control change); `message_shown(text)`;
    `open_requested()` when the Open… button asks for the window's image dialog."""

    TITLE = TITLE
    results_shown = Signal(str, float)
    message_shown = Signal(str)
    open_requested = Signal()

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state = InspectionState()
        self.queue = JobQueue(views.priority, self)
        self._started: dict[str, float] = {}
        self.timings: dict[str, float] = {}  # kind -> ms of the last result shown
        self._model_timer = QTimer(self, singleShot=True, interval=MODEL_DELAY_MS)
        self._model_timer.timeout.connect(self._on_model_timer_timeout)
        self._build()
        self.state.images_added.connect(self._on_state_images_added)
        self.state.image_removed.connect(self.strip.remove_image)
        self.state.current_changed.connect(self._on_state_current_changed)
        self.state.model_changed.connect(self._on_state_model_changed)
        self.state.compare_changed.connect(self._on_state_compare_changed)
        self.state.analysis_changed.connect(self._on_state_analysis_changed)
        context.model.changed.connect(self._on_model_state_changed)
        self.queue.busy_changed.connect(self._on_queue_busy_changed)
        self._start_model_build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.strip = ImageStrip()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open images (Ctrl+I); or drop files or a folder anywhere, or paste (Ctrl+V)")
        self.sample_button = QPushButton("Samples")
        self.sample_button.setToolTip("Load ten real CIFAR-10 test images shipped with resnet-studio, "
                                      "one per class")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected image from the strip (Delete)")
        buttons = QVBoxLayout()
        for button in (self.open_button, self.sample_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.compare_bar = CompareBar()
        self.compare_bar.setFixedWidth(440)
        top = QHBoxLayout()
        top.addWidget(self.strip, 1)
        top.addLayout(buttons)
        top.addWidget(self.compare_bar)

        self.message = QLabel("Drop images anywhere on the window (or a folder), open them with "
                              "File > Open Image… (Ctrl+I), or paste one (Ctrl+V).")  # fmt: skip
        self.message.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(90)
        self.busy.setMaximumHeight(12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        message_row = QHBoxLayout()
        message_row.addWidget(self.message, 1)
        message_row.addWidget(self.busy)

        self.input = InputColumn()
        self.views: dict[str, ViewWidget] = {v.key: VIEW_WIDGETS[v.key]() for v in VIEWS}
        self.tabs = QTabWidget()
        for v in VIEWS:
            self.tabs.addTab(self.views[v.key], v.title)
            self.views[v.key].request_changed.connect(partial(self._on_view_request_changed, v.key))
        self.activations: ActivationsView = self.views[ANALYSIS]
        self.residual: ResidualPane = self.views["residual"]
        self.gradcam: GradCamPane = self.views["gradcam"]
        self.figure7: Figure7Pane = self.views["figure7"]
        self.compare: ComparePane = self.views["compare"]
        splitter = QSplitter()
        splitter.addWidget(self.input)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 900])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(message_row)
        layout.addWidget(splitter, 1)

        self.strip.image_selected.connect(self._on_strip_image_selected)
        self.strip.remove_requested.connect(self.state.remove_image)
        self.open_button.clicked.connect(self.open_requested)
        self.sample_button.clicked.connect(self.load_sample)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.activations.layer_selected.connect(self._on_activations_layer_selected)
        self.activations.colormap_changed.connect(self.residual.set_colormap)
        self.compare_bar.load_requested.connect(self._on_compare_load_requested)
        self.compare_bar.clear_requested.connect(self._on_compare_clear_requested)

    # ------------------------------------------------------------------ public API
    def open_paths(self, paths: list[str]) -> None:
        """Decode image files and folders in a worker, then add them to the strip."""
        self._started["drop"] = time.perf_counter()
        names = ", ".join(p.rsplit("/", 1)[-1] for p in paths[:3]) + (", …" if len(paths) > 3 else "")
        self.show_message(f"Opening {names}…", "info")
        self.queue.submit("load", jobs.load_files, list(paths), on_done=self._on_images_loaded,
                          on_error=self._on_job_failed, supersede=False)  # fmt: skip

    def add_qimage(self, image: QImage, label: str = "pasted image") -> None:
        """An image from the clipboard or a browser drag: encoded as PNG, decoded by core."""
        self._started["drop"] = time.perf_counter()
        if image is None or (isinstance(image, QImage) and image.isNull()):
            self.show_message("The clipboard image is empty; nothing was changed.", "error")
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        QImage(image).save(buffer, "PNG")
        buffer.close()
        self.queue.submit("load", jobs.load_bytes, label, bytes(data.data()), on_done=self._on_images_loaded,
                          on_error=self._on_job_failed, supersede=False)  # fmt: skip

    @Slot()
    def load_sample(self) -> None:
        self.open_paths([str(path) for path in sample_paths()])

    def show_view(self, key: str) -> None:
        """Bring the view `key` ("activations", "figure7", … : app.inspection.views) to the front."""
        keys = [v.key for v in VIEWS]
        if key not in keys:
            raise ValueError(f"no view {key!r}; the views are {', '.join(keys)}")
        self.tabs.setCurrentIndex(keys.index(key))

    def compare_with_twin(self) -> None:
        """Load the current network's plain/residual twin as the second model (with its
        default weights: the shipped ones, when it ships trained), as "Plain twin" + Load."""
        self.compare_bar.twin_button.click()
        name = self.compare_bar.name_edit.text().strip()
        if name:
            self._on_compare_load_requested(name, "")

    def show_message(self, text: str, kind: str = "info") -> None:
        """The line under the strip (errors stay until the next message)."""
        self.message.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.message.setText(text)
        self.message_shown.emit(text)

    def select_image(self, image_id: int) -> None:
        self.strip.select_image(image_id)

    def is_ready(self) -> bool:
        """Model built, nothing queued, and the current image's top-k shown."""
        return self.state.is_ready() and not self._model_timer.isActive() and self.queue.idle()

    def confirm_close(self) -> bool:
        return True  # nothing here is worth keeping the window open for

    def shutdown(self) -> None:
        """Stop following the model, stop and join the running job (the window closes)."""
        self.context.model.changed.disconnect(self._on_model_state_changed)
        self._model_timer.stop()
        self.queue.shutdown()

    def apply_palette(self) -> None:
        self.figure7.apply_palette()
        self.compare.apply_palette()

    # ------------------------------------------------------------------ models
    def _on_model_state_changed(self, choice: Any, weights: Any) -> None:
        self._model_timer.start()

    @Slot()
    def _on_model_timer_timeout(self) -> None:
        self._start_model_build()

    def _start_model_build(self) -> None:
        choice, weights = self.context.model.choice, self.context.model.weights
        generation = self.state.request_model()
        self.input.model_label.setText(f"<b>{choice.name}</b>: preparing…")
        self.queue.submit("model", jobs.build_bundle, generation, choice, weights,
                          on_done=self.state.set_model, on_error=self._on_model_failed)  # fmt: skip

    def _on_state_model_changed(self, model: jobs.ModelBundle) -> None:
        for widget in self.views.values():
            widget.set_model(model)
        self.compare_bar.current_name = model.name
        self.input.show_model(model)
        self._refresh()

    def _on_model_failed(self, exc: BaseException, details: str) -> None:
        self.input.model_label.setText(f"Could not prepare the model: {exc}")
        self.show_message(f"Could not prepare the model: {exc}", "error")

    @Slot(str, str)
    def _on_compare_load_requested(self, name: str, source: str) -> None:
        generation = self.state.request_compare()
        self.compare_bar.set_status(f"Loading {name or source}…", "info")
        self.queue.submit("compare-model", jobs.build_compare_bundle, generation, name, source,
                          on_done=self.state.set_compare, on_error=self._on_compare_failed)  # fmt: skip

    def _on_state_compare_changed(self, model: jobs.ModelBundle | None) -> None:
        if model is None:
            self.compare_bar.set_status("No second model: Figure 7 and Compare show one network.")
        else:
            self.compare_bar.set_status(f"{model.name} ready ({model.weights_text}): Figure 7 and Compare "
                                        "show both.", "ok")  # fmt: skip
        self._refresh()

    def _on_compare_failed(self, exc: BaseException, details: str) -> None:
        text = str(exc) if isinstance(exc, StudioError) else f"Could not load: {exc!r}"
        self.compare_bar.set_status(text, "error")

    @Slot()
    def _on_compare_clear_requested(self) -> None:
        self.queue.cancel("compare-model")
        self.state.set_compare(None)

    # ------------------------------------------------------------------ images
    def _on_images_loaded(self, loaded: jobs.LoadedImages) -> None:
        had_images = bool(self.state.image_ids())
        added = self.state.add_images(loaded.images)
        if loaded.errors:
            more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
            kept = " The images on screen were kept." if not added and had_images else ""
            self.show_message(loaded.errors[0] + more + kept, "error")
            self.message.setToolTip("\n\n".join(loaded.errors))
        elif added:
            self.show_message(f"Opened {len(added)} image{'s' if len(added) > 1 else ''}.", "ok")
        if added:
            self._started[ANALYSIS] = self._started.pop("drop", time.perf_counter())
            self.strip.select_image(added[0].id)

    def _on_state_images_added(self, images: list[InspectImage]) -> None:
        for image in images:
            tip = f"{image.path or image.label}\n{image.size[0]} × {image.size[1]} pixels"
            self.strip.add_image(image.id, image.label, image.thumbnail, tip)

    @Slot(int)
    def _on_strip_image_selected(self, image_id: int) -> None:
        if not self.state.select(image_id):
            return
        self._started.setdefault(ANALYSIS, time.perf_counter())
        for v in VIEWS:
            if v.per_image:
                self.queue.cancel(v.key)
        self._refresh()

    def _on_state_current_changed(self, image: InspectImage | None) -> None:
        if image is None:
            for v in VIEWS:
                if v.per_image:
                    self.views[v.key].clear()

    @Slot()
    def _on_remove_clicked(self) -> None:
        current = self.strip.current_id()
        if current is not None:
            self.state.remove_image(current)

    def _on_state_analysis_changed(self, analysis: jobs.Analysis | None) -> None:
        image = self.state.current
        self.input.show_analysis(analysis, image, self.state.model)
        if analysis is not None:
            self.gradcam.set_top(analysis.top)

    # ------------------------------------------------------------------ requests
    def _visible(self) -> str:
        return VIEWS[self.tabs.currentIndex()].key

    def _refresh(self) -> None:
        """Ask for whatever the screen should show and does not (the state decides:
        the current image's top-k first, then the visible view)."""
        if self.state.model is None:
            return
        for key, widget in self.views.items():
            self.state.set_settings(key, widget.settings())
        visible = views.view(self._visible())
        if visible.requires_compare and self.state.compare is None:
            self.views[visible.key].clear(visible.placeholder)
        for key in self.state.requests(visible.key):
            self._submit(key)

    def _submit(self, key: ViewKey) -> None:
        widget = self.views[key.view]
        self._started.setdefault(key.view, time.perf_counter())
        widget.set_pending()
        self.queue.submit(key.view, views.view(key.view).job, self.state.inputs(key), key.settings,
                          on_done=partial(self._on_view_done, key), on_error=partial(self._on_view_failed, key.view),
                          on_progress=widget.set_progress)  # fmt: skip

    # ------------------------------------------------------------------ results
    def _on_view_done(self, key: ViewKey, result: Any) -> None:
        if not self.state.accept(key, result):
            return
        widget = self.views[key.view]
        widget.show_result(result)
        painted = widget.painted()
        if key.view == ANALYSIS:  # the analysis also fills the input column
            painted += self.input.painted()
        self._painted(key.view, painted)
        self._refresh()

    def _on_view_failed(self, view: str, exc: BaseException, details: str) -> None:
        self.state.failed(view)
        self._started.pop(view, None)
        text = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
        self.views[view].show_failure(text)
        self.show_message(f"Could not compute the {view} view: {text}", "error")

    def _on_job_failed(self, exc: BaseException, details: str) -> None:
        self.show_message(f"Failed: {exc}", "error")

    def _painted(self, kind: str, widgets: tuple[QWidget, ...]) -> None:
        """Paint now and record the time since the request (the latency users feel)."""
        for widget in widgets:
            widget.repaint()
        started = self._started.pop(kind, None)
        if started is not None:
            self.timings[kind] = (time.perf_counter() - started) * 1000.0
            self.results_shown.emit(kind, self.timings[kind])

    # ------------------------------------------------------------------ slots
    def _on_view_request_changed(self, view: str) -> None:
        if view == ANALYSIS:
            self._started[ANALYSIS] = time.perf_counter()
        self._refresh()

    @Slot(str)
    def _on_activations_layer_selected(self, name: str) -> None:
        model = self.state.model
        block = ".".join(name.split(".")[:2])
        if model is not None and name.count(".") >= 1 and block in model.blocks:
            self.residual.select_block(block)

    @Slot(int)
    def _on_tabs_current_changed(self, index: int) -> None:
        self._refresh()

    @Slot(bool)
    def _on_queue_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)
