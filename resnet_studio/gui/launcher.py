"""Starting the desktop app: check Qt can open a window, create it, run the event loop.

`run_app` is what `resnet-studio` without a subcommand calls. Only the standard
library is imported at module level, so a missing PySide6 or a missing system
library becomes a message with the fix instead of Qt's bare abort ("could not load
the Qt platform plugin xcb", then SIGABRT): Qt aborts inside QApplication's
constructor, so the checks have to happen before it.

SIGINT (Ctrl+C in the terminal) and SIGTERM close the window as the user would,
without the "stop training?" question: training stops and its runs keep their
checkpoints, then the app quits with status 0, as after closing the window.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

EXIT_USER_ERROR = 2

# What Qt 6's xcb plugin loads beyond libxcb itself (Qt's "Linux requirements" page).
XCB_LIBRARIES = (
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxcb-image.so.0", "libxcb-image0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxcb-randr.so.0", "libxcb-randr0"),
    ("libxcb-shape.so.0", "libxcb-shape0"),
    ("libxcb-xkb.so.1", "libxcb-xkb1"),
)
HEADLESS_HINT = (
    "Without a display, QT_QPA_PLATFORM=offscreen works for `resnet-studio --screenshot FILE` "
    "(no window appears), and `xvfb-run resnet-studio` runs it on a virtual display."
)


def _loadable(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def qt_platform_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None, loadable=_loadable
) -> str | None:
    """Why Qt would fail to open a window here, with the fix; None when it should work."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").strip()
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc...: Qt's own message is clear enough
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None  # Qt 6 prefers its wayland plugin in a Wayland session
    if not env.get("DISPLAY"):
        return "resnet-studio cannot open a window: no display (DISPLAY and WAYLAND_DISPLAY " \
               "are not set).\n" + HEADLESS_HINT  # fmt: skip
    missing = [(lib, pkg) for lib, pkg in XCB_LIBRARIES if not loadable(lib)]
    if not missing:
        return None
    return (
        "resnet-studio cannot open a window: Qt's xcb platform plugin needs system libraries "
        f"that are missing: {', '.join(lib for lib, _ in missing)}.\n"
        f"On Debian/Ubuntu: sudo apt-get install {' '.join(pkg for _, pkg in missing)}\n"
        "(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms libxkbcommon-x11)\n"
        + HEADLESS_HINT
    )


def install_excepthook(window_of=lambda: None, *, headless: bool = False):
    """Show unexpected exceptions (e.g. in a slot) in a dialog instead of aborting.

    PySide6 calls sys.excepthook for exceptions raised in slots and event handlers;
    the default prints them and, with Qt >= 5.5 semantics, the app may abort. Returns
    the previous hook so it can be restored. `headless` (screenshots) only prints.
    """
    previous = sys.excepthook
    showing = False

    def hook(exc_type, exc, tb) -> None:
        nonlocal showing
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        print(text, file=sys.stderr, end="")
        if headless or showing:
            return
        from resnet_studio.core.errors import StudioError
        from resnet_studio.gui.widgets import show_error

        showing = True
        try:
            if issubclass(exc_type, StudioError):
                show_error(window_of(), "ResNet Studio", str(exc))
            else:
                show_error(window_of(), "Unexpected error",
                           f"Something went wrong: {exc_type.__name__}: {exc}\n"
                           "The app keeps running; the details may help a bug report.", text)  # fmt: skip
        finally:
            showing = False

    sys.excepthook = hook
    return previous


QUIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def install_signal_handlers(on_signal: Callable[[int], None],
                            signals: tuple[int, ...] = QUIT_SIGNALS) -> Callable[[], None]:  # fmt: skip
    """Call `on_signal(signum)` in the GUI thread, from Qt's event loop, when one of
    `signals` arrives. Returns a function that restores the previous handlers.

    Python runs its signal handlers only between bytecodes of the main thread, and
    while Qt's loop sleeps in C none run: Ctrl+C went unnoticed until some slot ran,
    and then raised KeyboardInterrupt inside it. Here the C-level handler also writes
    the signal number to a socket (`signal.set_wakeup_fd`), a QSocketNotifier wakes
    the loop, and its slot calls `on_signal` at a clean point of the loop.
    """
    from PySide6.QtCore import QSocketNotifier

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        signal.signal(signum, lambda *_: None)  # the byte on the wakeup socket does the work
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def on_readable(*_: Any) -> None:
        try:
            data = reader.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:  # one byte per signal received
            if signum in signals:
                on_signal(signum)

    notifier.activated.connect(on_readable)

    def restore() -> None:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        reader.close()
        writer.close()

    return restore


def _option(options: Any, name: str, default: Any = None) -> Any:
    if isinstance(options, Mapping):
        return options.get(name, default)
    return getattr(options, name, default)


def run_app(options: Any = None) -> int:
    """Open the main window (or, with `screenshot`, save a PNG of it and exit).

    `options` is the CLI's argparse namespace (or a dict): screenshot (a path or
    None), panel ("model" | "training"), demo (bool: the training panel runs a short
    comparison, for screenshots), debug.
    """
    screenshot = _option(options, "screenshot")
    env = os.environ
    runs_dir = _option(options, "app_runs_dir")
    if runs_dir:  # the one setting every reader of the run store follows (core.runs)
        from resnet_studio.core.runs.layout import ENV_RUNS_DIR

        env[ENV_RUNS_DIR] = str(Path(runs_dir).expanduser().resolve())
    if screenshot and not env.get("QT_QPA_PLATFORM") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    problem = qt_platform_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"resnet-studio needs PySide6 for its window ({exc}); "
              "pip install PySide6-Essentials", file=sys.stderr)  # fmt: skip
        return EXIT_USER_ERROR

    from resnet_studio.gui import settings, workers
    from resnet_studio.gui.main_window import MainWindow
    from resnet_studio.gui.none_guard import protect_none
    from resnet_studio.gui.widgets import app_icon

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "resnet-studio"])
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationName(settings.APPLICATION)
    app.setApplicationDisplayName("ResNet Studio")
    app.setDesktopFileName("resnet-studio")
    app.setWindowIcon(app_icon())
    protect_none()  # before the first paint: PySide6 6.12.0 on Python < 3.12
    demo = bool(_option(options, "demo", False))
    # standby: the next Start finds a training engine booted (a demo starts at once)
    window = MainWindow(demo=demo, persist=not screenshot, standby=not (screenshot or demo))
    previous_hook = install_excepthook(lambda: window, headless=bool(screenshot))
    restore_signals = install_signal_handlers(lambda _signum: window.close_without_asking())
    try:
        if screenshot:
            from resnet_studio.gui.screenshot import take_screenshot

            code = take_screenshot(app, window, screenshot, _option(options, "panel") or "model",
                                   view=_option(options, "view"))
        else:
            window.show()
            QTimer.singleShot(100, window.start_loading)  # after the first paint
            code = app.exec()
    finally:
        sys.excepthook = previous_hook
        window.close()
        left = workers.stop_all()
        restore_signals()
    if left:  # a job ignored its cancel: deleting its QThread would abort, so leave now
        print(f"warning: {len(left)} background job(s) did not stop; exiting anyway", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
