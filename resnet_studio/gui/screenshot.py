"""`resnet-studio --screenshot FILE`: open the window, wait until it is drawn, save a PNG.

Used for the README and to look at the GUI on machines without a display
(QT_QPA_PLATFORM=offscreen). "Drawn" means PyTorch is loaded and every panel says
`is_ready()` (the Model panel: its stage table and tree describe the chosen network;
with --demo the training panel decides when its comparison has run long enough).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from resnet_studio.gui.main_window import MainWindow

PANELS = {"model": "Model", "training": "Training"}
POLL_MS = 100
SETTLE_POLLS = 3  # ready for a few polls in a row: layouts and paints have caught up


def take_screenshot(
    app: QApplication, window: MainWindow, path: str | Path, panel: str = "model", timeout_s: float = 180.0,
    view: str | None = None,
) -> int:
    """Run the event loop until the window is ready, grab it into `path`; 0 on success.
    `view`: the Inspection panel's view to show (figure7 and compare load the twin)."""
    path = Path(path)
    title = PANELS.get(panel, panel.title())
    state: dict = {"code": 1, "ready_polls": 0}
    deadline = time.monotonic() + timeout_s
    window.show()
    window.start_loading()

    def finish(code: int) -> None:
        state["code"] = code
        timer.stop()
        app.exit(code)

    def poll() -> None:
        if window.device is not None and title not in window.panel_titles():  # core loaded, panel missing
            print(f"error: the {panel} panel is not available in this version "
                  f"(panels: {', '.join(window.panel_titles()) or 'none'})", file=sys.stderr)  # fmt: skip
            finish(2)
            return
        if title not in window.panel_titles():
            return  # still loading PyTorch: the other panels come with it
        window.show_panel(title)
        if panel == "training" and not state.get("runs_shown") and window.training is not None \
                and not window.context.demo:  # a screenshot of what the store holds
            state["runs_shown"] = True
            window.training.show_latest_comparison()
        if view and not state.get("view_set") and window.is_ready():
            state["view_set"] = True  # once the network and its weights are in
            inspection = window.inspection
            inspection.show_view(view)
            if view in ("figure7", "compare"):
                inspection.compare_with_twin()
            return
        ready = window.is_ready()
        state["ready_polls"] = state["ready_polls"] + 1 if ready else 0
        timed_out = time.monotonic() > deadline
        if state["ready_polls"] < SETTLE_POLLS and not timed_out:
            return
        if timed_out:
            print(f"warning: the window was not ready after {timeout_s:.0f} s; saving it anyway",
                  file=sys.stderr)  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path), "PNG"):
            print(f"error: could not write {path}", file=sys.stderr)
            finish(1)
            return
        print(f"saved {path}")
        finish(1 if timed_out else 0)

    timer = QTimer(interval=POLL_MS)
    timer.timeout.connect(poll)
    timer.start()
    app.exec()
    return state["code"]
