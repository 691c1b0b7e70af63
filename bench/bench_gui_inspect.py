"""The Inspection panel end to end: drop event -> top-5 + one layer's grid painted, and a
Grad-CAM class change -> overlay painted, against a bare forward in the same process
(in a short-lived thread, as the panel's jobs run).

    QT_QPA_PLATFORM=offscreen python bench/bench_gui_inspect.py                # resnet50, 224 px, layer2
    QT_QPA_PLATFORM=offscreen python bench/bench_gui_inspect.py --threads 1 --repeats 15

The panel's own timer (`InspectionPanel.timings`) starts when the drop reaches the
window (or the control changes) and stops after the result widgets were repainted,
so it includes the worker hops, image decoding, preprocessing, the forward, the grid
rendering and the paint. Targets (2-core CPU, after warm-up): drop -> top-5 with one
layer's activations <= 150 ms; Grad-CAM <= 400 ms. Weights are random (time does not
depend on them). Round-robin with the bare forward, medians of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--layer", default="layer2")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import torch

    from resnet_studio.core.catalog import ModelChoice
    from resnet_studio.gui.main_window import MainWindow

    if args.threads:
        torch.set_num_threads(args.threads)
    window = MainWindow(persist=False)
    window.show()
    window.start_loading()
    wait(app, lambda: window.panel("Inspection") is not None)
    panel = window.panel("Inspection")
    panel.context.model.set_choice(ModelChoice(args.model))  # the state the Model panel shows, too
    state = panel.state
    wait(app, lambda: state.model is not None and state.model.name == args.model and panel.is_ready())
    window.show_panel("Inspection")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "noise.jpg"
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path, quality=90)
        drop(window, path)
        wait(app, panel.is_ready)
        panel.activations.select_layer(args.layer)
        wait(app, panel.is_ready)
        model = state.model.model
        x = state.analysis.x[None]

        def bare_forward() -> float:
            # in a thread that then exits, as the panel's jobs do: a forward on this (the
            # GUI) thread would leave it an OpenMP thread team, and with two teams
            # alive libgomp stops spin-waiting and the panel's forwards run up to 2x
            # slower (see bench_gui_training.py); the app keeps torch off its GUI thread
            elapsed = []

            def forward() -> None:
                start = time.perf_counter()
                with torch.inference_mode():
                    model(x)
                elapsed.append((time.perf_counter() - start) * 1e3)

            thread = threading.Thread(target=forward)
            thread.start()
            thread.join()
            return elapsed[0]

        def drop_to_top5() -> float:
            drop(window, path)
            wait(app, lambda: panel.is_ready() and state.shown("analyse").image_id == state.current.id)
            return panel.timings["analyse"]

        panel.tabs.setCurrentWidget(panel.gradcam)
        wait(app, panel.is_ready)
        classes = iter(range(10**6))

        def gradcam_class_change() -> float:
            panel.gradcam.class_box.setValue(next(classes) % 1000)
            wait(app, lambda: panel.is_ready()
                 and state.shown("gradcam").settings.class_index == panel.gradcam.class_index())
            return panel.timings["gradcam"]

        cases = {"bare forward (inference_mode)": bare_forward,
                 f"drop -> top-5 + {args.layer} grid, painted": drop_to_top5,
                 "Grad-CAM class change -> overlay painted": gradcam_class_change}  # fmt: skip
        for _ in range(args.warmup):
            for fn in cases.values():
                fn()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, fn in cases.items():
                times[name].append(fn())
    window.close()
    base = statistics.median(times["bare forward (inference_mode)"])
    print(f"{args.model} at {state.model.preprocessing.input_size} px, layer {args.layer}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {args.repeats} repeats after {args.warmup} warm-up, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'path':<44} {'median ms':>10} {'min ms':>8} {'x forward':>10}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<44} {med:>10.1f} {min(samples):>8.1f} {med / base:>10.2f}")


def drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    action, button, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(300, 300), action, mime, button, mods))
    QApplication.sendEvent(window, QDropEvent(QPointF(300, 300), action, mime, button, mods))


def wait(app: QApplication, condition, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the panel did not finish in time")
        app.processEvents()
        time.sleep(0.001)


if __name__ == "__main__":
    main()
