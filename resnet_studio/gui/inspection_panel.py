"""The Inspection panel: drop images on the window and see what the network sees.

The input as the network sees it, top-5 with probability bars, a layer's feature
maps, a residual block's F(x) / x / F(x) + x, Grad-CAM, the paper's Figure 7 and a
two-model comparison. All computing happens in core, called from `inspection_jobs`
in worker threads through one `JobQueue`, so the panel never freezes.

Freshness works by keys: every view remembers the key (image id, model generation,
its own settings) of what it shows, and of what it asked for. A change computes the
new key for the top-k/activations and for the visible tab only; a request whose key
is already shown or asked for is not repeated, and a newer request supersedes an
older one (the queue cancels it and drops its result). Views wait for the top-k
forward of their image, so the top-5 appears first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from importlib import resources
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

from resnet_studio.core.errors import StudioError
from resnet_studio.gui import inspection_jobs as jobs
from resnet_studio.gui.image_strip import ImageStrip
from resnet_studio.gui.image_views import ImageView, ProbabilityBars
from resnet_studio.gui.inspection_compare import CompareBar, ComparePane, Figure7Pane
from resnet_studio.gui.inspection_views import ActivationsView, GradCamPane, ResidualPane
from resnet_studio.gui.widgets import status_color

TITLE = "Inspection"
MODEL_DELAY_MS = 150  # let the Model panel's depth box settle before rebuilding
PER_IMAGE = ("analyse", "residual", "gradcam", "compare")
TABS = ("activations", "residual", "gradcam", "figure7", "compare")


def create_panel(window: Any) -> InspectionPanel:
    """The main window's hook. In screenshot mode (`persist` False) a sample image is
    loaded, so the picture shows the panel at work rather than empty."""
    panel = InspectionPanel(window.model_panel)
    window.palette_changed.connect(panel.apply_palette)
    if not getattr(window, "persist", True):
        QTimer.singleShot(0, panel.load_sample)
    return panel


def sample_path() -> str:
    """A small drawing shipped with the package (resources/samples/sample.png)."""
    return str(resources.files("resnet_studio") / "resources" / "samples" / "sample.png")


@dataclass
class InspectImage:
    id: int
    label: str
    path: str | None
    image: Any  # PIL RGB image, decoded by core.images.load_image
    size: tuple[int, int]


class InspectionPanel(QWidget):
    """Signals: `results_shown(kind, ms)` once a result is painted, with the time since
    the request (drop, selection or control change); `message_shown(text)`."""

    results_shown = Signal(str, float)
    message_shown = Signal(str)

    def __init__(self, model_panel: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_panel = model_panel
        self.queue = jobs.JobQueue(self)
        self._images: dict[int, InspectImage] = {}
        self._next_id = 1
        self._current_id: int | None = None
        self._bundle: jobs.ModelBundle | None = None
        self._compare: jobs.ModelBundle | None = None
        self._generation = {"model": 0, "compare-model": 0}
        self._analysis: jobs.Analysis | None = None
        self._shown: dict[str, tuple | None] = {}
        self._wanted: dict[str, tuple | None] = {}
        self._started: dict[str, float] = {}
        self.timings: dict[str, float] = {}  # kind -> ms of the last result shown
        self._model_timer = QTimer(self, singleShot=True, interval=MODEL_DELAY_MS)
        self._model_timer.timeout.connect(self._on_model_timer_timeout)
        self._build()
        model_panel.model_changed.connect(self._on_model_changed)
        self.queue.busy_changed.connect(self._on_queue_busy_changed)
        self._start_model_build()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.strip = ImageStrip()
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open images (Ctrl+I); or drop files or a folder anywhere, or paste (Ctrl+V)")
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("Load a small drawing shipped with resnet-studio")
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

        self.input_view = ImageView("Drop an image here or anywhere on the window", hint=240)
        self.input_view.setMinimumSize(200, 200)
        self.input_info = QLabel("")
        self.input_info.setWordWrap(True)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.bars = ProbabilityBars()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(QLabel("<b>Input, as the network sees it</b>"))
        left_layout.addWidget(self.input_view, 1)
        left_layout.addWidget(self.input_info)
        left_layout.addWidget(self.model_label)
        left_layout.addWidget(self.warning)
        left_layout.addWidget(QLabel("<b>Top-5</b>"))
        left_layout.addWidget(self.bars)
        left.setMinimumWidth(240)

        self.activations = ActivationsView()
        self.residual = ResidualPane()
        self.gradcam = GradCamPane()
        self.figure7 = Figure7Pane()
        self.compare = ComparePane()
        self.tabs = QTabWidget()
        for widget, title in ((self.activations, "Activations"), (self.residual, "Residual block"),
                              (self.gradcam, "Grad-CAM"), (self.figure7, "Figure 7"),
                              (self.compare, "Compare")):  # fmt: skip
            self.tabs.addTab(widget, title)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 900])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(message_row)
        layout.addWidget(splitter, 1)

        self.strip.image_selected.connect(self._on_strip_image_selected)
        self.strip.remove_requested.connect(self._on_strip_remove_requested)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.sample_button.clicked.connect(self.load_sample)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.activations.request_changed.connect(self._on_view_request_changed)
        self.activations.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.activations.colormap_box.currentTextChanged.connect(self.residual.set_colormap)
        self.residual.request_changed.connect(self._on_view_request_changed)
        self.gradcam.request_changed.connect(self._on_view_request_changed)
        self.figure7.request_changed.connect(self._on_view_request_changed)
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
        self.open_paths([sample_path()])

    def show_message(self, text: str, kind: str = "info") -> None:
        """The line under the strip (errors stay until the next message)."""
        self.message.setStyleSheet(f"color: {status_color(kind, self.palette()).name()};")
        self.message.setText(text)
        self.message_shown.emit(text)

    def image_ids(self) -> list[int]:
        return self.strip.ids()

    def current_image(self) -> InspectImage | None:
        return self._images.get(self._current_id) if self._current_id is not None else None

    def select_image(self, image_id: int) -> None:
        self.strip.select_image(image_id)

    def bundle(self) -> jobs.ModelBundle | None:
        return self._bundle

    def shown(self, kind: str) -> tuple | None:
        """The key of what view `kind` shows (image id first for per-image views)."""
        return self._shown.get(kind)

    def is_ready(self) -> bool:
        """Model built, nothing queued, and the current image's top-k shown."""
        if self._bundle is None or self._model_timer.isActive() or not self.queue.idle():
            return False
        return self._current_id is None or self._shown.get("analyse") == self._analysis_key()

    def shutdown(self) -> None:
        """Stop and join the running job (the window is closing)."""
        self._model_timer.stop()
        self.queue.shutdown()

    def apply_palette(self) -> None:
        self.figure7.apply_palette()
        self.compare.apply_palette()

    # ------------------------------------------------------------------ models
    @Slot(str, dict)
    def _on_model_changed(self, name: str, options: dict) -> None:
        self._model_timer.start()

    @Slot()
    def _on_model_timer_timeout(self) -> None:
        self._start_model_build()

    def _start_model_build(self) -> None:
        choice = self.model_panel.choice()
        weights = self.model_panel.weights()
        self._generation["model"] += 1
        self.model_label.setText(f"<b>{choice.name}</b>: preparing…")
        self.queue.submit("model", jobs.build_bundle, self._generation["model"], choice.name, choice.options(),
                          weights, on_done=self._on_bundle_built, on_error=self._on_model_failed)  # fmt: skip

    def _on_bundle_built(self, bundle: jobs.ModelBundle) -> None:
        keep_layer, keep_block = self.activations.layer(), self.residual.block()
        keep_cam = self.gradcam.layer() if self._bundle is not None and self._bundle.name == bundle.name else None
        self._bundle = bundle
        self.activations.set_tree(bundle.tree, keep_layer)
        self.residual.set_blocks(bundle.blocks, keep_block)
        self.gradcam.set_layers(bundle.gradcam_layers, bundle.last_stage, bundle.num_classes, keep_cam)
        self.compare_bar.current_name = bundle.name
        weights = "random weights" if bundle.random_weights else bundle.weights_label
        self.model_label.setText(f"<b>{bundle.name}</b> · {weights} · input {bundle.prep.input_size} px")
        warnings = []
        if bundle.random_weights:
            warnings.append("⚠ Random weights: these predictions mean nothing. Load weights in the "
                            "Model panel or drop a weight file.")  # fmt: skip
        elif not bundle.class_names:
            warnings.append("⚠ Class names unknown: classes are shown by index.")
        self.warning.setStyleSheet(f"color: {status_color('error', self.palette()).name()};")
        self.warning.setText(" ".join(warnings))
        self.warning.setVisible(bool(warnings))
        self._shown.clear()
        self._wanted.clear()
        self._refresh()

    def _on_model_failed(self, exc: BaseException, details: str) -> None:
        self.model_label.setText(f"Could not prepare the model: {exc}")
        self.show_message(f"Could not prepare the model: {exc}", "error")

    @Slot(str, str)
    def _on_compare_load_requested(self, name: str, source: str) -> None:
        self._generation["compare-model"] += 1
        self.compare_bar.set_status(f"Loading {name or source}…", "info")
        self.queue.submit("compare-model", jobs.build_compare_bundle, self._generation["compare-model"], name,
                          source, on_done=self._on_compare_built, on_error=self._on_compare_failed)  # fmt: skip

    def _on_compare_built(self, bundle: jobs.ModelBundle) -> None:
        self._compare = bundle
        weights = "random weights" if bundle.random_weights else bundle.weights_label
        self.compare_bar.set_status(f"{bundle.name} ready ({weights}): Figure 7 and Compare show both.", "ok")
        self._refresh()

    def _on_compare_failed(self, exc: BaseException, details: str) -> None:
        text = str(exc) if isinstance(exc, StudioError) else f"Could not load: {exc!r}"
        self.compare_bar.set_status(text, "error")

    @Slot()
    def _on_compare_clear_requested(self) -> None:
        self.queue.cancel("compare-model")
        self._compare = None
        self.compare_bar.set_status("No second model: Figure 7 and Compare show one network.")
        self._refresh()

    # ------------------------------------------------------------------ images
    def _on_images_loaded(self, loaded: jobs.LoadedImages) -> None:
        first = None
        for label, path, image, thumb in loaded.images:
            item = InspectImage(self._next_id, label, path, image, image.size)
            self._next_id += 1
            self._images[item.id] = item
            tip = f"{path or label}\n{image.size[0]} × {image.size[1]} pixels"
            self.strip.add_image(item.id, label, thumb, tip)
            first = first if first is not None else item.id
        if loaded.errors:
            more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
            kept = " The images on screen were kept." if first is None and self._images else ""
            self.show_message(loaded.errors[0] + more + kept, "error")
            self.message.setToolTip("\n\n".join(loaded.errors))
        elif first is not None:
            count = len(loaded.images)
            self.show_message(f"Opened {count} image{'s' if count > 1 else ''}.", "ok")
        if first is not None:
            self._started["analyse"] = self._started.pop("drop", time.perf_counter())
            self.strip.select_image(first)

    @Slot(int)
    def _on_strip_image_selected(self, image_id: int) -> None:
        if image_id == self._current_id:
            return
        self._current_id = image_id
        self._started.setdefault("analyse", time.perf_counter())
        for kind in PER_IMAGE:
            self.queue.cancel(kind)
            self._wanted[kind] = None
        self._refresh()

    @Slot(int)
    def _on_strip_remove_requested(self, image_id: int) -> None:
        self.strip.remove_image(image_id)
        self._images.pop(image_id, None)
        if image_id == self._current_id and not self._images:
            self._current_id = None
            self._clear_image_views()

    @Slot()
    def _on_remove_clicked(self) -> None:
        current = self.strip.current_id()
        if current is not None:
            self._on_strip_remove_requested(current)

    @Slot()
    def _on_open_clicked(self) -> None:
        window = self.window()
        drops = getattr(window, "drops", None)
        if drops is not None:
            drops.open_images()

    def _clear_image_views(self) -> None:
        self._analysis = None
        self._shown.clear()
        self.input_view.set_image(None)
        self.input_info.setText("")
        self.bars.set_rows([])
        self.activations.clear()
        self.residual.clear()
        self.gradcam.clear()

    # ------------------------------------------------------------------ requests
    def _analysis_key(self) -> tuple | None:
        if self._bundle is None or self._current_id is None:
            return None
        a = self.activations
        return (self._current_id, self._bundle.generation, a.layer(), a.order(), a.max_maps())

    def _view_key(self, kind: str) -> tuple | None:
        bundle, image_id = self._bundle, self._current_id
        compare_gen = self._compare.generation if self._compare is not None else 0
        if bundle is None:
            return None
        if kind == "figure7":
            source = self.figure7.source()
            images = tuple(self.strip.ids()) if source == "images" else ()
            return (bundle.generation, compare_gen, source, self.figure7.count(), images)
        if image_id is None:
            return None
        if kind == "residual":
            return (image_id, bundle.generation, self.residual.block())
        if kind == "gradcam":
            return (image_id, bundle.generation, self.gradcam.layer(), self.gradcam.class_index())
        if kind == "compare":
            return (image_id, bundle.generation, compare_gen) if self._compare is not None else None
        return None

    def _refresh(self) -> None:
        """Ask for whatever the screen should show and does not: the top-k of the
        current image first, then the visible tab's view."""
        if self._bundle is None:
            return
        key = self._analysis_key()
        image = self.current_image()
        if key is not None and image is not None and key[2] is not None and self._shown.get("analyse") != key:
            if self._wanted.get("analyse") != key:
                self._wanted["analyse"] = key
                self._started.setdefault("analyse", time.perf_counter())
                a = self.activations
                self.queue.submit("analyse", jobs.analyse, self._bundle, image.image, a.layer(), a.max_maps(),
                                  a.order(), a.colormap(), a.shared_scale(),
                                  on_done=partial(self._on_analysis_done, key),
                                  on_error=partial(self._on_view_failed, "analyse"))  # fmt: skip
            return  # views wait for the top-k forward of this image
        self._refresh_views()

    def _refresh_views(self) -> None:
        kind = TABS[self.tabs.currentIndex()]
        key = self._view_key(kind)
        if kind == "compare" and self._compare is None:
            self.compare.clear("Load a second model with “Compare with” above to see both side by side.")
            return
        if key is None or self._shown.get(kind) == key or self._wanted.get(kind) == key:
            return
        analysis = self._analysis
        analysis_current = analysis is not None and self._shown.get("analyse") == self._analysis_key()
        if kind in ("residual", "gradcam") and not analysis_current:
            return
        self._wanted[kind] = key
        self._started[kind] = self._started.get(kind) or time.perf_counter()
        done, failed = partial(self._on_view_done, kind, key), partial(self._on_view_failed, kind)
        if kind == "residual":
            self.queue.submit(kind, jobs.residual, self._bundle, analysis.x, key[2], on_done=done, on_error=failed)
        elif kind == "gradcam":
            self.queue.submit(kind, jobs.gradcam, self._bundle, analysis.x, key[2], key[3],
                              on_done=done, on_error=failed)  # fmt: skip
        elif kind == "compare":
            bundles = self._labelled_bundles()
            self.queue.submit(kind, jobs.compare, bundles, self.current_image().image, on_done=done, on_error=failed)
        elif kind == "figure7":
            images = [self._images[i].image for i in self.strip.ids() if i in self._images]
            self.figure7.set_status("computing…")
            self.queue.submit(kind, jobs.figure7, self._labelled_bundles(), key[2], images, key[3],
                              on_done=done, on_error=failed, on_progress=self._on_figure7_progressed)  # fmt: skip

    def _labelled_bundles(self) -> dict[str, jobs.ModelBundle]:
        bundles = {self._bundle.name: self._bundle}
        if self._compare is not None:
            label = self._compare.name
            bundles[label if label not in bundles else f"{label} (compared)"] = self._compare
        return bundles

    # ------------------------------------------------------------------ results
    def _on_analysis_done(self, key: tuple, result: jobs.Analysis) -> None:
        if key != self._wanted.get("analyse"):
            return
        bundle = self._bundle
        self._analysis = result
        self._shown["analyse"] = key
        image = self._images.get(key[0])
        self.input_view.set_image(result.display)
        prep = bundle.prep
        if image is not None:
            self.input_info.setText(f"{image.label}: {image.size[0]} × {image.size[1]} px → resized to "
                                    f"{prep.resize_size}, centre crop {prep.input_size} × {prep.input_size}")  # fmt: skip
        self.bars.set_rows([(bundle.class_name(i), p) for i, p in result.top])
        self.gradcam.set_top([(i, bundle.class_name(i), p) for i, p in result.top])
        self.activations.show_maps(result.maps, result.grid, result.columns)
        self._painted("analyse", (self.input_view, self.bars, self.activations.grid))
        self._refresh_views()

    def _on_view_done(self, kind: str, key: tuple, result: Any) -> None:
        if key != self._wanted.get(kind):
            return
        self._shown[kind] = key
        if kind == "residual":
            self.residual.show_view(result)
            painted = self.residual.views
        elif kind == "gradcam":
            self.gradcam.show_cam(result, self._analysis.display, self._bundle.class_name(result.class_index))
            painted = (self.gradcam.view,)
        elif kind == "compare":
            self.compare.show_comparison(result, self._labelled_bundles())
            painted = (self.compare,)
        else:
            self.figure7.show_stats(result)
            painted = (self.figure7,)
        self._painted(kind, painted)

    def _on_view_failed(self, kind: str, exc: BaseException, details: str) -> None:
        self._wanted[kind] = None
        self._started.pop(kind, None)
        text = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
        if kind == "figure7":
            self.figure7.set_status(text, "error")
        self.show_message(f"Could not compute the {kind} view: {text}", "error")

    def _on_job_failed(self, exc: BaseException, details: str) -> None:
        self.show_message(f"Failed: {exc}", "error")

    def _on_figure7_progressed(self, done: int, total: int) -> None:
        self.figure7.set_status(f"computing… model {min(done + 1, total)} of {total}")

    def _painted(self, kind: str, widgets) -> None:
        """Paint now and record the time since the request (the latency users feel)."""
        for widget in widgets:
            widget.repaint()
        started = self._started.pop(kind, None)
        if started is not None:
            self.timings[kind] = (time.perf_counter() - started) * 1000.0
            self.results_shown.emit(kind, self.timings[kind])

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_view_request_changed(self) -> None:
        sender = self.sender()
        if sender is self.activations:
            self._started["analyse"] = time.perf_counter()
        self._refresh()

    @Slot(object, object)
    def _on_tree_current_changed(self, current, previous) -> None:
        name = self.activations.layer()
        if name and self._bundle is not None:
            parts = name.split(".")
            block = ".".join(parts[:2])
            if len(parts) >= 2 and block in self._bundle.blocks:
                self.residual.select_block(block)

    @Slot(int)
    def _on_tabs_current_changed(self, index: int) -> None:
        self._refresh()

    @Slot(bool)
    def _on_queue_busy_changed(self, busy: bool) -> None:
        self.busy.setVisible(busy)
