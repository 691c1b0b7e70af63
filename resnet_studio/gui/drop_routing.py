"""Window-wide drag and drop, File > Open Image… and paste: where each file goes.

Users drop files anywhere on the window, so the routing sits at the main-window
level (an event filter on the window and on the Model panel, which accepts weight
drops itself): images and folders go to the Inspection panel, weight files to the
Model panel, anything else gets a clear "not an image" message and changes nothing.

Only PySide6 is imported here: the window (and this router) exists before PyTorch
is loaded, and importing core would import torch. The suffix lists mirror
`core.images.IMAGE_SUFFIXES` and the Model panel's weight suffixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from resnet_studio.gui import settings

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
IMAGE_FILTER = ("Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)")
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
        suffix = path.suffix.lower()
        if path.is_dir() or suffix in IMAGE_SUFFIXES:
            out.images.append(str(path))
        elif suffix in WEIGHT_SUFFIXES:
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
            "of them, or a weight file (.safetensors, .pth, .pt, .ckpt, .bin).")  # fmt: skip


class DropRouter(QObject):
    """Installed by the main window; see the module docstring."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        window.core_loaded.connect(self._on_window_core_loaded)

    # ------------------------------------------------------------------ public
    def route(self, mime: QMimeData, label: str = "dropped image") -> bool:
        """Send what `mime` holds where it belongs; False (with a message) if nothing fits."""
        if not self._loaded():
            return False
        dropped = sort_mime(mime)
        if not dropped.routable() and mime.hasImage():  # an image dragged out of a browser
            panel = self._inspection()
            if panel is not None:
                panel.add_qimage(mime.imageData(), label)
                self.window.show_panel(INSPECTION)
                return True
        return self.route_paths(dropped)

    def route_paths(self, dropped: SortedDrop) -> bool:
        messages = []
        if dropped.weights:
            self.window.model_panel.load_weights_file(dropped.weights[0])
            extra = " (one weight file at a time: the others were skipped)" if len(dropped.weights) > 1 else ""
            messages.append(f"Loading weights from {Path(dropped.weights[0]).name}{extra}")
        panel = self._inspection()
        if dropped.images:
            if panel is None:
                messages.append("The Inspection panel is not available.")
            else:
                panel.open_paths(dropped.images)
                self.window.show_panel(INSPECTION)
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
                                                settings.last_folder("images"), IMAGE_FILTER)  # fmt: skip
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
        model_panel = self.window.model_panel
        if obj is model_panel and event.type() != QEvent.Type.DragLeave:
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
        if self.window.model_panel is None:
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
            panel = self._inspection()
            if panel is not None and event.type() == QEvent.Type.DragEnter:
                panel.show_message(text, "error")

    def _on_drop(self, event: QDropEvent) -> None:
        if self.route(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _loaded(self) -> bool:
        if self.window.model_panel is None:
            self.window.statusBar().showMessage("Still loading PyTorch; try again in a moment.", MESSAGE_MS)
            return False
        return True

    def _inspection(self):
        return self.window.panel(INSPECTION)

    def _on_window_core_loaded(self) -> None:
        if self.window.model_panel is not None:
            self.window.model_panel.installEventFilter(self)
