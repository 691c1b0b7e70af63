"""A choice in the Model panel -> its numbers painted, while PyTorch still loads (issue 13).

    python bench/choice_paint.py [--choices 12]

One fresh process, as a user's: the real `MainWindow` is shown and starts loading
PyTorch in its background thread exactly as `resnet-studio` does (100 ms after the
first paint). While that import runs, the script makes a choice every 150 ms
(`ModelState.set_choice`, what the picker calls), cycling through nets of both
families, and times each from the call to the paint of the panel's parameter count
showing that net's number (an application event filter sees the paint). Baseline,
alternating with the choices in the same event loop: a bare QLabel given a new
number, timed the same way to its paint. Each sample records whether the torch import
had finished by then. Target: <= 100 ms from a choice, before torch has loaded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

NAMES = ("cifar-resnet56", "resnet50", "cifar-plain110", "resnet152-v1d", "cifar-resnet1202",
         "plain34", "cifar-resnet164-bottleneck-preact", "resnet18")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--choices", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    from resnet_studio.core.catalog import ModelChoice
    from resnet_studio.core.model_table import listed_info
    from resnet_studio.gui.main_window import MainWindow
    from resnet_studio.gui.widgets import format_int

    app = QApplication([sys.argv[0]])
    window = MainWindow(persist=False)
    bare = QLabel("0")
    bare.setObjectName("bareLabel")
    bare.resize(200, 40)
    bare.show()
    samples: dict[str, list[tuple[float, bool]]] = {"choice": [], "bare": []}
    waiting: dict[str, tuple[str, float]] = {}  # label name -> (text awaited, start)

    def torch_loaded() -> bool:
        return window.device is not None  # set when the window's core import has finished

    class Watch(QObject):
        def eventFilter(self, obj, event):  # noqa: ANN001, ANN202, N802 - Qt's name
            if event.type() == QEvent.Type.Paint and isinstance(obj, QLabel):
                want = waiting.get(obj.objectName())
                if want is not None and obj.text() == want[0]:
                    del waiting[obj.objectName()]
                    key = "choice" if obj.objectName() == "paramsLabel" else "bare"
                    samples[key].append(((time.perf_counter() - want[1]) * 1000, torch_loaded()))
            return False

    watch = Watch()
    app.installEventFilter(watch)
    window.show()
    QTimer.singleShot(100, window.start_loading)  # as the launcher does
    step = {"i": 0}

    def next_sample() -> None:
        i = step["i"]
        step["i"] += 1
        if i >= 2 * args.choices:
            app.quit()
            return
        if i % 2 == 0:
            name = NAMES[(i // 2) % len(NAMES)]
            info = listed_info(name)
            waiting["paramsLabel"] = (format_int(info.params), time.perf_counter())
            window.model.set_choice(ModelChoice(name))
        else:
            text = str(1000 + i)
            waiting["bareLabel"] = (text, time.perf_counter())
            bare.setText(text)
        QTimer.singleShot(150, next_sample)

    QTimer.singleShot(300, next_sample)  # after the first paint, as a user's first click
    app.exec()

    print(f"# {2 * args.choices} samples alternating, 150 ms apart, torch loading in the window's thread")
    for key in ("bare", "choice"):
        values = samples[key]
        before = [ms for ms, loaded in values if not loaded]
        print(f"{key:<7} n={len(values):2d}  median {statistics.median(ms for ms, _ in values):6.1f} ms"
              f"  max {max(ms for ms, _ in values):6.1f} ms  before torch loaded: {len(before)}"
              + (f" (median {statistics.median(before):.1f} ms, max {max(before):.1f} ms)" if before else ""))
    ratio = statistics.median(ms for ms, _ in samples["choice"]) / statistics.median(ms for ms, _ in samples["bare"])
    print(f"choice / bare = {ratio:.2f}   (target: a choice painted <= 100 ms)")
    window.close()


if __name__ == "__main__":
    main()
