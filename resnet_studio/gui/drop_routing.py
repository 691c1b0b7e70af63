"""Window-wide drag and drop, File > Open Image… and paste: where each file goes.

Users drop files anywhere on the window, so the routing sits at the main-window
level (an event filter on the window and on the Model panel, which accepts weight
drops itself): images and folders go to the Inspection panel, weight files to the
Model panel, anything else gets a clear "not an image" message and changes nothing.

The window creates the router at once and `attach`es the panels once PyTorch is
loaded; until then every drop gets "still loading PyTorch". Only PySide6 and the
torch-free catalog are imported here: the window (and this router) exists before
PyTorch is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow

from resnet_studio.core.catalog import (
    IMAGES_FILTER,
    WEIGHT_SUFFIXES,
    is_image_file,
    is_weight_file,
    suffix_list,
)
from resnet_studio.gui import settings

if TYPE_CHECKING:  # the panels import torch; the router must not
    from resnet_studio.gui.inspection_panel import InspectionPanel
    from resnet_studio.gui.model_panel import ModelPanel

INSPECTION = "Inspection"
MESSAGE_MS = 8000
_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.DragLeave, QEvent.Type.Drop)


@dataclass
class SortedDrop:
    """Dropped paths by destination."""

    images: list[str] = field(default_factory=list)  # image files and folders
    weights: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # local files that are neither
    remote: list[str] = field(default_factory=list)  # http:// and other non-local URLs

    def routable(self) -> bool:
        return bool(self.images or self.weights)


def sort_paths(paths: list[str]) -> SortedDrop:
    """Sort by name only (a text file named .jpg is an "image" here; decoding refuses
    it later with its own message). Folders count as images: they are expanded."""
    out = SortedDrop()
    for text in paths:
        path = Path(text)
        if path.is_dir() or is_image_file(path):
            out.images.append(str(path))
        elif is_weight_file(path):
            out.weights.append(str(path))
        else:
            out.others.append(str(path))
    return out


def sort_mime(mime: QMimeData) -> SortedDrop:
    urls = mime.urls() if mime.hasUrls() else []
    out = sort_paths([url.toLocalFile() for url in urls if url.isLocalFile()])
    out.remote = [url.toString() for url in urls if not url.isLocalFile()]
    return out


def not_an_image_message(names: list[str]) -> str:
    shown = ", ".join(Path(n).name or n for n in names[:3]) + (", …" if len(names) > 3 else "")
    return (f"Not an image: {shown}. Drop JPEG, PNG, BMP, GIF, WebP or TIFF images, a folder "
            f"of them, or a weight file ({suffix_list(WEIGHT_SUFFIXES)}).")  # fmt: skip


class DropRouter(QObject):
    """Installed by the main window; see the module docstring. `show_panel(title)`
    brings a panel's tab to the front (the window's)."""

    def __init__(self, window: QMainWindow, show_panel: Callable[[str], object]) -> None:
        super().__init__(window)
        self.window = window
        self._show_panel = show_panel
        self._model: ModelPanel | None = None
        self._inspection: InspectionPanel | None = None
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def attach(self, model: ModelPanel, inspection: InspectionPanel | None) -> None:
        """The panels exist (PyTorch is loaded): route to them from now on. The
        Inspection panel may be missing (it failed to open)."""
        self._model, self._inspection = model, inspection
        model.installEventFilter(self)

    # ------------------------------------------------------------------ public
    def route(self, mime: QMimeData, label: str = "dropped image") -> bool:
        """Send what `mime` holds where it belongs; False (with a message) if nothing fits."""
        if not self._loaded():
            return False
        dropped = sort_mime(mime)
        # an image dragged out of a browser
        if not dropped.routable() and mime.hasImage() and self._inspection is not None:
            self._inspection.add_qimage(mime.imageData(), label)
            self._show_panel(INSPECTION)
            return True
        return self.route_paths(dropped)

    def route_paths(self, dropped: SortedDrop) -> bool:
        """Load the first weight file and open the images; say what was refused."""
        if self._model is None:
            return self._loaded()
        messages = []
        if dropped.weights:
            self._model.load_weights_file(dropped.weights[0])
            extra = " (one weight file at a time: the others were skipped)" if len(dropped.weights) > 1 else ""
            messages.append(f"Loading weights from {Path(dropped.weights[0]).name}{extra}")
        panel = self._inspection
        if dropped.images:
            if panel is None:
                messages.append("The Inspection panel is not available.")
            else:
                panel.open_paths(dropped.images)
                self._show_panel(INSPECTION)
        refused = dropped.others + dropped.remote
        if refused:
            text = not_an_image_message(refused)
            if dropped.remote and not dropped.others:
                text = "Only files on this computer can be dropped; download the image first."
            if not dropped.routable():
                text += " Nothing was changed."
            messages.append(text)
            if panel is not None:
                panel.show_message(text, "error")
        if messages:
            self.window.statusBar().showMessage(" · ".join(messages), MESSAGE_MS)
        return dropped.routable()

    def open_images(self) -> None:
        """File > Open Image…: several files at once."""
        if not self._loaded():
            return
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open images",
                                                settings.last_folder("images"), IMAGES_FILTER)  # fmt: skip
        if paths:
            settings.remember_folder("images", paths[0])
            self.route_paths(sort_paths(paths))

    def paste(self) -> None:
        """Edit > Paste: an image, or file URLs, from the clipboard."""
        mime = QApplication.clipboard().mimeData()
        if mime is None or not (mime.hasImage() or mime.hasUrls()):
            self.window.statusBar().showMessage("The clipboard holds no image or image file.", MESSAGE_MS)
            return
        self.route(mime, "pasted image")

    # ------------------------------------------------------------------ events
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() not in _DRAG_EVENTS:
            return False
        if obj is self._model and obj is not None and event.type() != QEvent.Type.DragLeave:
            dropped = sort_mime(event.mimeData())
            if dropped.weights and not dropped.images:
                return False  # the Model panel's own drop handling, with its highlight
        if event.type() == QEvent.Type.DragLeave:
            self.window.statusBar().clearMessage()
            return False
        if event.type() == QEvent.Type.Drop:
            self._on_drop(event)
        else:
            self._on_drag(event)
        return True

    def _on_drag(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        dropped = sort_mime(mime)
        bar = self.window.statusBar()
        if self._model is None:
            event.ignore()
            bar.showMessage("Still loading PyTorch; drop again in a moment.", MESSAGE_MS)
        elif dropped.routable() or mime.hasImage():
            event.acceptProposedAction()
            what = []
            if dropped.images:
                what.append(f"inspect {len(dropped.images)} image{'s' if len(dropped.images) > 1 else ''}"
                            if len(dropped.images) > 1 or not Path(dropped.images[0]).is_dir()
                            else f"inspect the images in {Path(dropped.images[0]).name}")  # fmt: skip
            elif mime.hasImage():
                what.append("inspect the image")
            if dropped.weights:
                what.append(f"load weights from {Path(dropped.weights[0]).name}")
            bar.showMessage("Drop to " + " and ".join(what))
        else:  # refused here: Qt sends no drop after an ignored enter, so say why now
            event.ignore()
            refused = dropped.others + dropped.remote
            text = (not_an_image_message(refused) + " Nothing was changed.") if refused else \
                "Nothing to open in this drag."  # fmt: skip
            bar.showMessage(text, MESSAGE_MS)
            if self._inspection is not None and event.type() == QEvent.Type.DragEnter:
                self._inspection.show_message(text, "error")

    def _on_drop(self, event: QDropEvent) -> None:
        if self.route(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _loaded(self) -> bool:
        if self._model is None:
            self.window.statusBar().showMessage("Still loading PyTorch; try again in a moment.", MESSAGE_MS)
            return False
        return True
