"""The main window: loading state, panels, menus, settings, quitting, screenshots."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThread
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel

from resnet_studio.gui import settings, workers
from resnet_studio.gui.launcher import qt_platform_problem
from resnet_studio.gui.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert "Loading PyTorch" in win.statusBar().currentMessage()  # visible before torch
    with qtbot.waitSignal(win.core_loaded, timeout=60_000):
        win.start_loading()
    yield win
    win.close()


def test_loads_core_then_shows_the_model_panel(qtbot, window):
    assert window.pages.currentWidget() is window.tabs
    assert window.panel_titles()[0] == "Model"  # then only panels that exist (no empty tabs)
    assert set(window.panel_titles()) <= {"Model", "Training", "Inspection"}
    assert window.device_label.text().startswith("Training device: ")
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert window.save_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    # File > Export Plot is enabled by a panel with plots (Training), never by Model
    assert window.export_plot_action.isEnabled() == ("Training" in window.panel_titles())
    qtbot.waitUntil(window.is_ready, timeout=60_000)


def test_add_panel_and_plot_exporter(window):
    label = QLabel("another panel")
    window.add_panel("Training", label)
    assert window.show_panel("Training") and window.tabs.currentWidget() is label
    assert not window.tabs.tabBar().isHidden()  # two panels: tabs visible
    calls = []
    window.set_plot_exporter(lambda: calls.append(1))
    window.export_plot_action.trigger()
    assert calls == [1]


def test_quitting_stops_every_thread(qtbot, window):
    def endless(job):  # a job that only ends when cancelled
        while True:
            job.check()
            QThread.msleep(5)

    workers.run_in_thread(endless)
    window.model_panel.chooser.set_name("resnet101-v1c")  # a measurement in flight too
    qtbot.waitUntil(lambda: len(workers.active_workers()) == 2, timeout=5_000)
    window.close()
    assert workers.active_workers() == []  # cancelled and joined: nothing left running


def test_geometry_is_saved_in_the_temporary_settings(qtbot, temporary_settings):
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(900, 600)
    win.close()
    assert settings.app_settings().value("window/geometry") is not None
    assert str(temporary_settings) in settings.app_settings().fileName()


def test_platform_check_explains_missing_display_and_libraries():
    message = qt_platform_problem({}, "linux")
    assert "no display" in message and "QT_QPA_PLATFORM=offscreen" in message
    message = qt_platform_problem({"DISPLAY": ":0"}, "linux", loadable=lambda lib: "cursor" not in lib)
    assert "libxcb-cursor0" in message and "libxcb-icccm4" not in message
    assert qt_platform_problem({"DISPLAY": ":0"}, "linux", loadable=lambda lib: True) is None
    assert qt_platform_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert qt_platform_problem({}, "darwin") is None


def test_screenshot_command_writes_a_png(qtbot, tmp_path):
    from resnet_studio.cli import main

    out = tmp_path / "shot.png"
    assert main(["--screenshot", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert workers.active_workers() == []


def test_screenshot_of_the_training_panel_writes_a_png(qtbot, tmp_path, monkeypatch):
    from resnet_studio.cli import main

    monkeypatch.setenv("RESNET_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    shot = tmp_path / "t.png"
    assert main(["--screenshot", str(shot), "--panel", "training"]) == 0
    assert shot.stat().st_size > 10_000


def test_a_window_keeps_garbage_collection_in_the_gui_thread(qtbot):
    """Automatic GC could run in a worker and destroy a QObject there, deadlocking the
    window against the GIL (seen when windows were opened and closed repeatedly):
    any MainWindow, however created, turns it off and collects in the GUI thread."""
    import gc

    gc.enable()
    win = MainWindow(persist=False)
    qtbot.addWidget(win)
    assert not gc.isenabled()
    assert workers._COLLECTOR is not None and workers._COLLECTOR.timer.isActive()
    assert workers._COLLECTOR.timer.thread() is QThread.currentThread()
