"""How soon a new user sees something useful (issue 13, "Instant listings").

    python bench/first_paint.py [--repeats 3]

Two measurements, each against a baseline run in the same call, alternating between
them so the machine's state hits both alike, in fresh subprocesses (the cost a user
pays: interpreter start, imports, first paint):

1. launch -> first useful paint of the Model panel: `gui.launcher.run_app`, the path
   of `resnet-studio`, on the offscreen platform, until the panel's parameter count
   is painted (an application event filter sees the paint of the label named
   "paramsLabel" with a number in it); against a bare PySide6 window painting a
   label. Target: <= 1 s.
2. `resnet-studio models` and `models --json` (output discarded) against
   `python -c "import torch, torchvision"`. Target: <= 1 s. `--measured` adds one run
   of the listing measured with torch, as it was before the model table.

Prints medians and ratios; the event filter costs the app a Python call per event,
so its figure is, if anything, pessimistic.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WATCH = """
import os, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel

class Watch(QObject):
    def eventFilter(self, obj, event):
        if (event.type() == QEvent.Type.Paint and isinstance(obj, QLabel)
                and obj.objectName() == "paramsLabel" and obj.text()[:1].isdigit()):
            print("painted", obj.text(), flush=True)
            os._exit(0)  # at once: the app would go on to import torch
        return False

app = QApplication([sys.argv[0]])
watch = Watch()
app.installEventFilter(watch)
"""

APP = WATCH + """
from resnet_studio.gui.launcher import run_app

run_app({"screenshot": None})
"""

BARE = WATCH + """
from PySide6.QtWidgets import QMainWindow

window = QMainWindow()
label = QLabel("853,018")
label.setObjectName("paramsLabel")
window.setCentralWidget(label)
window.resize(1200, 780)
window.show()
app.exec()
"""

MEASURED_MODELS = """
import sys
from resnet_studio import cli
from resnet_studio.core import model_table

model_table.listed_info = lambda *args, **kwargs: None  # as before the table: measure each net
sys.exit(cli.main(sys.argv[1:]))
"""


def _env(config: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": config}  # fmt: skip  # the user's window settings stay untouched


def time_paint(script: str, env: dict[str, str], timeout: float = 120.0) -> float:
    """Seconds from starting the process to its "painted" line."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        elapsed = time.perf_counter() - start
        if not line.startswith("painted"):
            raise RuntimeError(f"the child never painted (exit {process.wait(timeout)})")
        return elapsed
    finally:
        process.kill()
        process.wait(timeout)


def time_run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a command, output discarded."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measured", action="store_true", help="also time one listing measured with torch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as config:
        env = _env(config)
        paint: dict[str, list[float]] = {"bare PySide6 window": [], "resnet-studio Model panel": []}
        models: dict[str, list[float]] = {"import torch, torchvision": [], "models": [], "models --json": []}
        python = [sys.executable]
        for _ in range(args.repeats):
            paint["bare PySide6 window"].append(time_paint(BARE, env))
            paint["resnet-studio Model panel"].append(time_paint(APP, env))
            models["import torch, torchvision"].append(time_run(python + ["-c", "import torch, torchvision"], env))
            models["models"].append(time_run(python + ["-m", "resnet_studio", "models"], env))
            models["models --json"].append(time_run(python + ["-m", "resnet_studio", "models", "--json"], env))
        if args.measured:
            models["models, measured with torch (1 run)"] = [
                time_run(python + ["-c", MEASURED_MODELS, "models"], env)
            ]
    _report("launch -> first paint (params visible)", paint, "bare PySide6 window", args.repeats)
    _report("listing the zoo", models, "import torch, torchvision", args.repeats)
    print(f"\ntargets: Model panel painted <= 1 s: {statistics.median(paint['resnet-studio Model panel']):.2f} s; "
          f"models <= 1 s: {statistics.median(models['models']):.2f} s, "
          f"--json {statistics.median(models['models --json']):.2f} s")  # fmt: skip


def _report(title: str, times: dict[str, list[float]], baseline: str, repeats: int) -> None:
    base = statistics.median(times[baseline])
    print(f"\n{title} (median of {repeats}; {sys.executable}, {os.cpu_count()} CPUs)")
    print(f"{'':<40} {'median s':>9} {'x baseline':>11}   runs")
    for name, values in times.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:<40} {median:9.3f} {median / base:11.2f}   {runs}")


if __name__ == "__main__":
    main()
