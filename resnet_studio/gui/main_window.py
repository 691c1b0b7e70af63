"""The main window: menus, status bar, and a tab per panel.

The window is shown before PyTorch is imported (that takes seconds): the Model panel,
which draws its numbers from core's torch-free model table, is there at once, while
a worker imports core and picks the device; then the other panels are built. It owns the one `ModelState` every panel shares and hands each
panel a `PanelContext`; then it only calls what the `Panel` protocol declares and
connects the Qt signals a panel offers (the Inspection panel's `open_requested`).
A panel that fails to build is reported and left out; the others stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio import __version__
from resnet_studio.app.model import ModelState
from resnet_studio.gui import settings, workers
from resnet_studio.gui.drop_routing import DropRouter
from resnet_studio.gui.model_panel import ModelPanel  # imports no torch: it shows before it
from resnet_studio.gui.panel import Panel, PanelContext
from resnet_studio.gui.widgets import PAPER_CITATION, app_icon, configure_plots, show_error

if TYPE_CHECKING:  # these panels import torch, which loads after the first paint
    from resnet_studio.gui.inspection_panel import InspectionPanel
    from resnet_studio.gui.training_panel import TrainingPanel

DEFAULT_SIZE = (1200, 780)


def load_core() -> dict:
    """Import PyTorch and core, pick the training device (runs in a worker).

    The imports the torch panels need are done here too, pyqtgraph's among them
    (~0.2 s of Python): in this thread the GUI thread gets the GIL every few ms,
    while on the GUI thread they would freeze the window once they all ran."""
    from resnet_studio.core import models  # noqa: F401 - the import is the point
    from resnet_studio.core.device import describe_device, resolve_device
    from resnet_studio.gui import inspection_panel, training_panel  # noqa: F401 - imports only

    device = resolve_device("auto")
    return {"device": str(device), "device_text": describe_device(device)}


class MainWindow(QMainWindow):
    """Signals: `core_loaded` once PyTorch is imported and the panels exist;
    `palette_changed` when the desktop switches light/dark (plots re-colour on it)."""

    core_loaded = Signal()
    palette_changed = Signal()

    def __init__(self, *, demo: bool = False, persist: bool = True, standby: bool = False) -> None:
        super().__init__()
        workers.collect_garbage_in_gui_thread()
        self.model = ModelState()  # the network every panel works on
        # demo: the training panel starts a short comparison; persist False (screenshots):
        # do not touch the user's settings
        # standby (the app, not tests): a training engine boots ahead of Start
        self.context = PanelContext(model=self.model, demo=demo, persist=persist, standby=standby)
        self.model_panel: ModelPanel | None = None  # built below, before torch
        self.training: TrainingPanel | None = None
        self.inspection: InspectionPanel | None = None
        self.device: str | None = None
        self._panels: dict[str, QWidget] = {}
        self._plot_exporter = None
        self._loader: workers.Worker | None = None
        self._asking = True  # False once a signal closes the window: no questions
        self.setWindowTitle("ResNet Studio")
        self.setWindowIcon(app_icon())
        self._build_pages()
        self._build_menus()
        self._build_status_bar()
        self._build_model_panel()
        self._restore_geometry()
        self.drops = DropRouter(self, self.show_panel)  # window-wide drops, Open Image…, paste
        self.palette_changed.connect(self._on_palette_changed)

    # ------------------------------------------------------------------ building
    def _build_pages(self) -> None:
        loading = QWidget()
        layout = QVBoxLayout(loading)
        layout.addStretch(1)
        self.loading_label = QLabel("Loading PyTorch…")
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.loading_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.loading_label.setFont(font)
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setMaximumWidth(320)
        layout.addWidget(self.loading_label)
        layout.addWidget(bar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)  # one panel: no lonely tab
        self.pages = QStackedWidget()
        self.pages.addWidget(loading)
        self.pages.addWidget(self.tabs)
        self.setCentralWidget(self.pages)

    def _build_model_panel(self) -> None:
        """The Model panel needs no torch for its numbers, so it shows at the first paint."""
        self.model_panel = ModelPanel(self.context)
        self.add_panel(ModelPanel.TITLE, self.model_panel)
        self.pages.setCurrentWidget(self.tabs)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("&Open Weights…", QKeySequence.StandardKey.Open, self._on_open_triggered)
        self.save_action = self._action("&Save Weights…", QKeySequence.StandardKey.Save, self._on_save_triggered)
        self.open_image_action = self._action("Open &Image…", "Ctrl+I", self._on_open_image_triggered)
        self.paste_image_action = self._action("&Paste Image", QKeySequence.StandardKey.Paste, self._on_paste_triggered)
        self.evaluate_action = self._action("E&valuate…", "Ctrl+E", self._on_evaluate_triggered)
        self.analyze_action = self._action("&Analyze…", "Ctrl+L", self._on_analyze_triggered)
        self.analyze_action.setEnabled(False)  # until PyTorch is loaded
        self._analysis = None  # gui/analysis_dialog.AnalysisDialog, made on first use
        self.export_onnx_action = self._action("Export &ONNX…", None, self._on_export_onnx_triggered)
        self.export_plot_action = self._action("&Export Plot…", None, self._on_export_plot_triggered)
        self.export_plot_action.setEnabled(False)
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        for action in self._model_actions():
            action.setEnabled(False)  # until the Model panel exists
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.open_image_action)
        file_menu.addAction(self.paste_image_action)
        file_menu.addSeparator()
        file_menu.addAction(self.evaluate_action)
        file_menu.addAction(self.analyze_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_onnx_action)
        file_menu.addAction(self.export_plot_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = self._action("&About ResNet Studio", None, self._on_about_triggered)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _model_actions(self) -> tuple[QAction, ...]:
        """The File actions the Model panel carries out."""
        return (self.open_action, self.save_action, self.evaluate_action, self.export_onnx_action)

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("Device: …")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Loading PyTorch…")
        self._memory_timer = QTimer(self, interval=5000)
        self._memory_timer.timeout.connect(self._on_memory_timer_timeout)

    # ------------------------------------------------------------------ loading
    def start_loading(self) -> None:
        """Import core in a worker; the panels appear when it is done."""
        if self._loader is None and self.device is None:
            self._loader = workers.run_in_thread(
                load_core, on_done=self._on_core_finished, on_error=self._on_core_failed
            )

    def _on_core_finished(self, result: dict) -> None:
        self._loader = None
        configure_plots(self.palette())
        self.training = self._build_training_panel()
        # Each panel takes ~50 ms to build (pyqtgraph's plot items): the second in the
        # next turn of the event loop, so a click in between is painted at once.
        QTimer.singleShot(0, self, lambda: self._finish_loading(result))

    def _finish_loading(self, result: dict) -> None:
        self.inspection = self._build_inspection_panel()
        self.device = result["device"]  # from here on the window counts as loaded
        self.device_label.setText(f"Training device: {result['device_text']}")
        if self.device.startswith("cuda"):
            self._memory_timer.start()
        self.drops.attach(self.model_panel, self.inspection)
        for action in self._model_actions():
            action.setEnabled(True)
        self.analyze_action.setEnabled(True)
        self.pages.setCurrentWidget(self.tabs)
        self.statusBar().showMessage("Ready", 3000)
        self.core_loaded.emit()

    def _on_core_failed(self, exc: BaseException) -> None:
        loader, self._loader = self._loader, None
        self.loading_label.setText(f"Could not load PyTorch: {exc}")
        self.statusBar().showMessage("PyTorch failed to load")
        details = loader.traceback_text if loader is not None else ""
        show_error(self, "Loading failed", f"Could not load PyTorch or resnet-studio's core:\n{exc}", details)

    def _build_training_panel(self) -> TrainingPanel | None:
        try:
            from resnet_studio.gui.training_panel import TrainingPanel

            panel = TrainingPanel(self.context)
        except Exception as exc:  # a broken panel must not take the app down
            show_error(self, "Panel failed", f"Could not open the Training panel: {exc!r}")
            return None
        self.add_panel(panel.TITLE, panel)
        self.set_plot_exporter(panel.export_plot)
        if self.context.demo:
            QTimer.singleShot(0, panel.start_demo)
        return panel

    def _build_inspection_panel(self) -> InspectionPanel | None:
        try:
            from resnet_studio.gui.inspection_panel import InspectionPanel

            panel = InspectionPanel(self.context)
        except Exception as exc:  # a broken panel must not take the app down
            show_error(self, "Panel failed", f"Could not open the Inspection panel: {exc!r}")
            return None
        self.add_panel(panel.TITLE, panel)
        panel.open_requested.connect(self.drops.open_images)
        if not self.context.persist:  # a screenshot shows the panel at work, not empty
            QTimer.singleShot(0, panel.load_sample)
        return panel

    # ------------------------------------------------------------------ panels
    def add_panel(self, title: str, widget: QWidget) -> int:
        """Add a panel as a tab (shown once there are two). Returns its index."""
        self._panels[title] = widget
        return self.tabs.addTab(widget, title)

    def panel(self, title: str) -> QWidget | None:
        return self._panels.get(title)

    def panels(self) -> list[Panel]:
        """The tabs that are panels (an added plain widget is only drawn)."""
        return [widget for widget in self._panels.values() if isinstance(widget, Panel)]

    def panel_titles(self) -> list[str]:
        return list(self._panels)

    def show_panel(self, title: str) -> bool:
        widget = self._panels.get(title)
        if widget is not None:
            self.tabs.setCurrentWidget(widget)
        return widget is not None

    def set_plot_exporter(self, exporter) -> None:
        """Enable File > Export Plot…; `exporter()` (a panel's slot) asks for a file itself."""
        self._plot_exporter = exporter
        self.export_plot_action.setEnabled(exporter is not None)

    def is_ready(self) -> bool:
        """Core loaded and every panel finished drawing."""
        return self.device is not None and all(panel.is_ready() for panel in self.panels())

    def close_without_asking(self) -> None:
        """Close as the user would, but without "really quit?" (SIGINT, SIGTERM): a
        running training stops, and its runs keep their checkpoints."""
        self._asking = False
        self.close()

    # ------------------------------------------------------------------ slots
    @Slot()
    def _on_open_triggered(self) -> None:
        if self.model_panel is not None:
            self.show_panel("Model")
            self.model_panel.open_weights()

    @Slot()
    def _on_open_image_triggered(self) -> None:
        self.drops.open_images()

    @Slot()
    def _on_paste_triggered(self) -> None:
        self.drops.paste()

    @Slot()
    def _on_save_triggered(self) -> None:
        if self.model_panel is not None:
            self.model_panel.save_weights()

    @Slot()
    def _on_evaluate_triggered(self) -> None:
        if self.model_panel is not None:
            self.model_panel.evaluate()

    @Slot()
    def _on_analyze_triggered(self) -> None:
        self.analyze()

    def analyze(self):  # noqa: ANN201 (an AnalysisDialog; its module imports torch lazily)
        """Open (or raise) the Analyze… dialog on the shared network (lesions, landscape)."""
        from resnet_studio.gui.analysis_dialog import AnalysisDialog

        if self._analysis is None:
            self._analysis = AnalysisDialog(self.model, self, persist=self.context.persist)
        self._analysis.show()
        self._analysis.raise_()
        return self._analysis

    @Slot()
    def _on_export_onnx_triggered(self) -> None:
        if self.model_panel is not None:
            self.show_panel("Model")  # the result is written in its Weights box
            self.model_panel.export_onnx()

    @Slot()
    def _on_export_plot_triggered(self) -> None:
        if self._plot_exporter is not None:
            self._plot_exporter()

    @Slot()
    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            "About ResNet Studio",
            f"<h3>ResNet Studio {__version__}</h3>"
            "<p>An experiment explorer for deep residual learning: the paper's ImageNet and "
            "CIFAR networks, their plain twins, training and inspection.</p>"
            f"<p>Based on: {PAPER_CITATION}</p>",
        )

    @Slot()
    def _on_palette_changed(self) -> None:
        for panel in self.panels():
            panel.apply_palette()

    @Slot()
    def _on_memory_timer_timeout(self) -> None:
        import torch

        from resnet_studio.core.device import describe_device

        self.device_label.setText(f"Training device: {describe_device(torch.device(self.device))}")

    # ------------------------------------------------------------------ events
    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            if self.device is not None:  # pyqtgraph is set up once core has loaded
                configure_plots(self.palette())
            self.palette_changed.emit()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Ask the panels (`confirm_close()`: e.g. training is running) unless a signal
        closes the window, then save geometry, stop every panel's jobs, join every thread."""
        if self._asking and not all(panel.confirm_close() for panel in self.panels()):
            event.ignore()
            return
        self._save_geometry()
        self._memory_timer.stop()
        for panel in self.panels():
            panel.shutdown()
        if self._analysis is not None:
            self._analysis.shutdown()
        workers.stop_all()
        event.accept()

    def _restore_geometry(self) -> None:
        self.resize(*DEFAULT_SIZE)
        if self.context.persist:
            geometry = settings.app_settings().value("window/geometry")
            if geometry is not None:
                self.restoreGeometry(geometry)

    def _save_geometry(self) -> None:
        if self.context.persist:
            settings.app_settings().setValue("window/geometry", self.saveGeometry())
