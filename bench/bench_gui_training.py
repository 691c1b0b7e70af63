"""Training inside the app vs the CLI, the window's responsiveness, the runs list.

Three figures:

1. throughput: the same comparison trained by `resnet-studio train --json` in a child
   process (the CLI exactly as a user runs it), then in this process by the whole app
   (MainWindow, Training panel, its worker thread, the event loop running and the curves
   redrawing at 20 Hz); images/s of both and their ratio (target >= 0.95). Rounds
   alternate the two, so a noisy machine hurts both alike.
   Why a child process and not core `train()` on this process's main thread: PyTorch's
   OpenMP (libgomp) keeps a thread team per thread that ever ran a parallel op, and
   once the teams hold more threads than there are cores, libgomp stops spinning at
   its barriers and every op pays a futex wake-up (about 25% slower here). A baseline
   run on the GUI thread would leave such a team behind and slow the app's run that
   follows; the app itself keeps tensor work off its GUI thread for the same reason.
2. responsiveness: during a third (app) run a 10 ms QTimer records when it actually
   fires; lateness = interval - 10 ms, p50/p99/max (targets: p99 <= 30 ms, max <= 100).
3. runs list: a run store of 100 runs x 200 epochs (bench_runs_list.py's generator),
   time from creating the panel to the table painted (target <= 1 s), next to
   list_runs alone; and ticking one run (reading its ~4,200 records and drawing them).

    QT_QPA_PLATFORM=offscreen python bench/bench_gui_training.py
    QT_QPA_PLATFORM=offscreen python bench/bench_gui_training.py --iters 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def recipe_for(args: argparse.Namespace):
    from resnet_studio.core.recipes import get_recipe

    return get_recipe("quick").with_overrides(
        image_size=args.image_size, batch_size=args.batch, iterations=args.iters,
        milestones=(args.iters,), val_size=256, eval_every=10**9, log_every=args.log_every,
        checkpoint_every=10**9, seed=0,
    )  # fmt: skip


def throughput(events: list[tuple[float, Any]], batch: int) -> float:
    """Images per second over the whole comparison: from the first run's start to the
    last run's end, counting every run's images (what a user waits for)."""
    from resnet_studio.core.training_events import RunEnded, RunStarted

    starts = [t for t, e in events if isinstance(e, RunStarted)]
    ends = [t for t, e in events if isinstance(e, RunEnded)]
    images = batch * sum(e.iteration for _, e in events if isinstance(e, RunEnded))
    return images / (max(ends) - min(starts)) if starts and ends else float("nan")


def step_rate(events: list[tuple[float, Any]]) -> float:
    """The engine's own images/s (time inside steps), median over training windows."""
    from resnet_studio.core.training_events import Progressed

    rates = [e.images_per_s for _, e in events if isinstance(e, Progressed)]
    return statistics.median(rates) if rates else float("nan")


def cli_flags(recipe) -> list[str]:
    """The recipe as `resnet-studio train` flags: every field that differs from quick."""
    import dataclasses

    from resnet_studio.core.recipes import get_recipe

    quick, flags = get_recipe("quick"), ["--recipe", "quick"]
    for field in dataclasses.fields(recipe):
        value = getattr(recipe, field.name)
        if field.name != "name" and value != getattr(quick, field.name):
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            flags += [f"--{field.name.replace('_', '-')}", text]
    return flags


def run_cli(models, recipe, runs_dir: str) -> list[tuple[float, Any]]:
    """`resnet-studio train --json` in a child process; events stamped as they arrive
    (typed again from their JSON, like the app's)."""
    from resnet_studio.core.training_events import event_from_json

    command = [sys.executable, "-m", "resnet_studio", "train", "--model", models[0],
               *(["--compare", *models[1:]] if len(models) > 1 else []),
               *cli_flags(recipe), "--runs-dir", runs_dir, "--json"]  # fmt: skip
    events: list[tuple[float, dict]] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
        for line in child.stdout:
            if line.startswith("{"):
                events.append((time.perf_counter(), event_from_json(json.loads(line))))
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    return events


def run_in_app(app: QApplication, models, recipe, runs_dir: str, probe_ms: int):
    """Train through the whole window's Training panel; a QTimer probes the event loop."""
    from resnet_studio.gui.main_window import MainWindow

    os.environ["RESNET_STUDIO_RUNS_DIR"] = runs_dir
    window = MainWindow(persist=False)
    window.resize(1400, 900)
    window.show()
    window.start_loading()
    while not window.is_ready():
        app.processEvents()
        time.sleep(0.01)
    window.show_panel("Training")
    panel = window.panel("Training")
    events: list[tuple[float, Any]] = []
    stamps: list[float] = []
    probe = QTimer(interval=probe_ms)
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()))

    def on_event(event: Any) -> None:  # a core.training_events.TrainingEvent
        events.append((time.perf_counter(), event))

    def on_ended(_results) -> None:
        app.exit(0)

    panel.training_ended.connect(on_ended)
    panel.training_started.connect(lambda: panel._worker.event_received.connect(on_event))
    QTimer.singleShot(0, lambda: panel.start(list(models), recipe))
    if probe_ms:
        probe.start()
    app.exec()
    probe.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    # lateness only while training ran (the data loading is part of both modes)
    from resnet_studio.core.training_events import RunEnded, RunStarted

    first = min(t for t, e in events if isinstance(e, RunStarted))
    last = max(t for t, e in events if isinstance(e, RunEnded))
    window_stamps = [s for s in stamps if first <= s <= last] if probe_ms else []
    intervals = [1e3 * (b - a) for a, b in zip(window_stamps, window_stamps[1:], strict=False)]
    return events, intervals


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_training(app: QApplication, args: argparse.Namespace) -> None:
    models = args.models
    recipe = recipe_for(args)
    rates: dict[str, list[float]] = {"cli": [], "app": []}
    steps: dict[str, list[float]] = {"cli": [], "app": []}
    with tempfile.TemporaryDirectory() as tmp:
        run_cli(models[:1], recipe.with_overrides(iterations=3, milestones=(3,)), tmp)  # warm-up
        for round_ in range(args.rounds):
            # alternate the order, so a machine that drifts faster or slower over a
            # round favours neither; the probe (100 wake-ups a second of its own) is
            # left out here and measured in a run of its own below
            for mode in ("cli", "app") if round_ % 2 == 0 else ("app", "cli"):
                if mode == "cli":
                    events = run_cli(models, recipe, tmp)
                else:
                    events, _ = run_in_app(app, models, recipe, tmp, probe_ms=0)
                rates[mode].append(throughput(events, args.batch))
                steps[mode].append(step_rate(events))
            print(f"  round {round_ + 1}: CLI {rates['cli'][-1]:8.1f} img/s, app "
                  f"{rates['app'][-1]:8.1f} img/s ({rates['app'][-1] / rates['cli'][-1]:.3f})",
                  flush=True)  # fmt: skip
        _, intervals = run_in_app(app, models, recipe, tmp, args.probe_ms)
    ratios = [a / c for a, c in zip(rates["app"], rates["cli"], strict=True)]
    print(f"\n(1) throughput, {' + '.join(models)}, {args.image_size} px, batch {args.batch}, "
          f"{args.iters} iterations, {args.rounds} rounds")  # fmt: skip
    for mode, label in (("cli", "resnet-studio train (child process)"),
                        ("app", "the app, Training panel + curves   ")):  # fmt: skip
        print(f"    {label} median {statistics.median(rates[mode]):7.1f} images/s  "
              f"(engine's step rate {statistics.median(steps[mode]):.1f})")  # fmt: skip
    print(f"    ratio app/CLI per round: median {statistics.median(ratios):.3f}, "
          f"mean {statistics.mean(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}"
          "  (target >= 0.95)")  # fmt: skip
    late = [max(0.0, i - args.probe_ms) for i in intervals]
    if late:
        print(f"(2) {args.probe_ms} ms QTimer while training ({len(late)} ticks): lateness "
              f"p50 {percentile(late, 50):.1f} ms, p99 {percentile(late, 99):.1f} ms, "
              f"max {max(late):.1f} ms  (targets p99 <= 30, max <= 100); intervals p50 "
              f"{percentile(intervals, 50):.1f} ms")  # fmt: skip


def bench_runs_list(app: QApplication, args: argparse.Namespace) -> None:
    from bench_runs_list import build

    from resnet_studio.app.model import ModelState
    from resnet_studio.core.runs import list_runs
    from resnet_studio.gui.panel import PanelContext
    from resnet_studio.gui.training_panel import TrainingPanel

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.runs)
        times, list_times, tick_times = [], [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            list_runs(root)
            list_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            panel = TrainingPanel(PanelContext(ModelState(), persist=False), runs_dir=root)
            panel.resize(1200, 780)
            panel.show()
            app.processEvents()
            panel.runs.table.viewport().repaint()
            times.append(time.perf_counter() - t)
            assert len(panel.runs.names()) == args.runs
            t = time.perf_counter()
            panel.runs.table.item(0, 0).setCheckState(Qt.CheckState.Checked)
            panel.plots.repaint()
            tick_times.append(time.perf_counter() - t)
            panel.shutdown()
            panel.close()
            panel.deleteLater()
            app.processEvents()
        print(f"(3) {args.runs} runs x 200 epochs: panel + table shown "
              f"{statistics.median(times) * 1e3:.0f} ms median of {args.repeat} (target <= 1000); "
              f"list_runs alone {statistics.median(list_times) * 1e3:.0f} ms; ticking one run "
              f"(~4,200 records read and drawn) {statistics.median(tick_times) * 1e3:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cifar-plain20", "cifar-resnet20"])
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--probe-ms", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from resnet_studio.gui.widgets import configure_plots

    configure_plots()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    if not args.skip_list:
        bench_runs_list(app, args)
    if not args.skip_training:
        bench_training(app, args)


if __name__ == "__main__":
    main()
