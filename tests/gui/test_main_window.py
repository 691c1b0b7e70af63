"""The main window: loading state, panels, menus, settings, quitting, signals, screenshots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QThread
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QLabel, QWidget

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
    assert window.evaluate_action.isEnabled() and window.export_onnx_action.isEnabled()
    # File > Export Plot is enabled by a panel with plots (Training), never by Model
    assert window.export_plot_action.isEnabled() == ("Training" in window.panel_titles())
    qtbot.waitUntil(window.is_ready, timeout=60_000)


def test_the_panels_share_the_window_model_state(window):
    assert window.model_panel.state is window.model is window.context.model
    assert window.panels()[0] is window.model_panel
    window.model_panel.chooser.set_name("cifar-resnet20")
    assert window.model.choice.name == "cifar-resnet20"  # what Training and Inspection follow


def test_file_evaluate_opens_the_dialog_on_the_window_state(qtbot, window):
    window.model_panel.chooser.set_name("cifar-resnet32")  # nothing ships for it
    window.evaluate_action.trigger()
    dialog = window.model_panel.evaluate()  # the one dialog, raised again
    assert dialog.isVisible() and dialog.state is window.model
    assert "random initialisation" in dialog.warning_label.text()  # no weights loaded yet


class RecordingPanel(QWidget):
    """A panel that says no to closing, to see what the window asks and tells."""

    TITLE = "Recording"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def is_ready(self) -> bool:
        return True

    def confirm_close(self) -> bool:
        self.calls.append("confirm_close")
        return False

    def shutdown(self) -> None:
        self.calls.append("shutdown")

    def apply_palette(self) -> None:
        self.calls.append("apply_palette")


def test_the_window_asks_panels_before_closing_but_not_for_a_signal(qtbot):
    win = MainWindow(persist=False)
    qtbot.addWidget(win)
    panel = RecordingPanel()
    win.add_panel(panel.TITLE, panel)
    win.add_panel("Plain", QLabel("not a panel: only drawn"))
    win.show()
    win.close()
    assert win.isVisible() and panel.calls == ["confirm_close"]  # it said no
    win.setPalette(QPalette(QColor("#202020")))  # the desktop went dark
    assert panel.calls[-1] == "apply_palette"
    panel.calls.clear()
    win.close_without_asking()  # SIGINT / SIGTERM
    assert not win.isVisible() and panel.calls == ["shutdown"]


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


# The app as a user starts it (run_app, with its signal handlers), training one small
# net until a signal arrives; the runs go to RESNET_STUDIO_RUNS_DIR.
TRAINING_APP = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from resnet_studio.gui.launcher import run_app
    from resnet_studio.gui.main_window import MainWindow

    app = QApplication(["resnet-studio"])

    def start_training():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows or windows[0].training is None:
            QTimer.singleShot(100, start_training)
            return
        from resnet_studio.core.recipes import get_recipe

        recipe = get_recipe("quick").with_overrides(
            image_size=8, batch_size=16, iterations=1_000_000, val_size=64, eval_every=100_000,
            log_every=5, checkpoint_every=1_000_000, seed=0)
        windows[0].training.start(["cifar-resnet8"], recipe)

    QTimer.singleShot(0, start_training)
    sys.exit(run_app({}))
""")


def _wait_for_training(runs: Path, process: subprocess.Popen, timeout_s: float = 120) -> None:
    """Until the run has logged a few steps (metrics written), or fail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app ended early: {process.communicate()}")
        if any(p.stat().st_size > 0 for p in runs.glob("*/metrics.jsonl")):
            return
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"training did not start within {timeout_s} s: {process.communicate()}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_training_with_a_checkpoint_and_quits(tmp_path, signum):
    """Ctrl+C in the terminal (SIGINT to the whole process group, the training child
    included) and SIGTERM act like closing the window, without its question."""
    from resnet_studio.core.runs import list_runs

    runs = tmp_path / "runs"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "RESNET_STUDIO_RUNS_DIR": str(runs),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", TRAINING_APP], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_training(runs, process)
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)  # what the terminal does on Ctrl+C
        else:
            os.kill(process.pid, signum)  # what `kill` and service managers do
        sent = time.monotonic()
        _out, err = process.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    assert took < 15
    [run] = list_runs(runs)
    assert run.status == "cancelled", run
    assert any((run.path / "checkpoints").iterdir()), "no checkpoint written"
