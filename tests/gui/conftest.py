"""GUI test fixtures: offscreen Qt, a throwaway QSettings location, and a check that
no test leaves a QThread or a training process running (deleting a running QThread
aborts the process, and a leaked worker would make later tests flaky). napari's
conftest does the same."""

from __future__ import annotations

import multiprocessing
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QThread  # noqa: E402

from resnet_studio.gui import workers  # noqa: E402


@pytest.fixture(autouse=True)
def temporary_settings(tmp_path_factory, monkeypatch):
    """Point QSettings (INI, user scope) at a temporary folder: never the user's file."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    yield folder


@pytest.fixture(autouse=True)
def fail_on_running_threads(monkeypatch):
    """Fail a test that leaves a QThread it started still running."""
    started: list[QThread] = []
    original = QThread.start

    def tracking_start(self, *args, **kwargs):
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield
    running = [t.objectName() or repr(t) for t in started if t.isRunning()]
    leaked = workers.active_workers()
    workers.stop_all(timeout_s=30)  # clean up either way, so the next test starts clean
    for thread in started:
        thread.wait(30_000)
    if running or leaked:
        pytest.fail(f"test left threads running: {running or [w.name for w in leaked]}")
    children = multiprocessing.active_children()  # training runs in child processes
    for child in children:
        child.kill()
    if children:
        pytest.fail(f"test left processes running: {[c.name for c in children]}")


@pytest.fixture
def model_state():
    """The state a Model panel draws (and the other panels follow)."""
    from resnet_studio.app.model import ModelState

    return ModelState()


@pytest.fixture
def panel(qtbot, model_state):
    """A Model panel bound to `model_state`, its first measurement shown."""
    from resnet_studio.gui.model_panel import ModelPanel
    from resnet_studio.gui.panel import PanelContext

    widget = ModelPanel(PanelContext(model=model_state, persist=False))
    qtbot.addWidget(widget)
    qtbot.waitUntil(widget.is_ready, timeout=60_000)
    yield widget
    widget.shutdown()


@pytest.fixture(autouse=True, scope="session")
def no_modal_dialogs():
    """A modal dialog would wait forever for a click offscreen: fail at once, naming
    the dialog, instead of hanging the suite. Session-wide, so that a window closed
    by pytest-qt's teardown cannot hang on its "stop training?" question either."""
    from PySide6.QtWidgets import QMessageBox

    def refuse_box(box, *args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {box.windowTitle()!r}: {box.text()!r}")

    def refuse_static(parent, title, text="", *args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {title!r}: {text!r}")

    patch = pytest.MonkeyPatch()
    patch.setattr(QMessageBox, "exec", refuse_box)
    for name in ("question", "warning", "information", "critical", "about"):
        patch.setattr(QMessageBox, name, staticmethod(refuse_static))
    yield
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def none_protected(qapp):
    """As in the app (gui/launcher.py): with a PySide6 that drops None's references, a long
    session would abort the interpreter (gui/none_guard.py)."""
    from resnet_studio.gui.none_guard import protect_none

    protect_none()


@pytest.fixture(autouse=True, scope="session")
def garbage_collected_in_the_gui_thread():
    """As in the app (gui/launcher.py): no automatic GC, which could run in a worker thread
    and destroy a QObject left by an earlier test there, deadlocking Qt against the GIL."""
    import gc

    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def collect_after_each_test():
    import gc

    yield
    gc.collect()  # in the main thread, while no worker runs
