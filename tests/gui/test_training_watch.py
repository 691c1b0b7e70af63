"""The Training panel watches runs that other processes write: a `resnet-studio train`
in a terminal appears in the runs table without a click and its ticked curve grows;
a half-written line is drawn once complete; a run deleted while shown leaves the
table and the plot; a vanished folder is a message and the polling backs off; a
mount that does not answer never freezes the window. The polling logic itself is
tested without Qt in tests/core/test_follow.py and tests/app/test_run_watch.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from resnet_studio.app.model import ModelState
from resnet_studio.app.training import watch as watch_module
from resnet_studio.core.runs import create_run, open_run
from resnet_studio.core.runs import store as store_module
from resnet_studio.core.runs.follow import StoreFollower
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.training_panel import TrainingPanel

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"model": "cifar-resnet8", "dataset": "synthetic",
          "recipe": {"lr": 0.1, "iterations": 40}}  # fmt: skip
TIMEOUT_MS = 240_000  # the CLI imports torch on a shared 2-core box


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setenv("RESNET_STUDIO_RUNS_DIR", str(folder))
    return folder


@pytest.fixture
def panel(qtbot, runs_dir):
    widget = TrainingPanel(PanelContext(ModelState(), persist=False), runs_dir=runs_dir)
    qtbot.addWidget(widget)
    widget.show()  # a hidden panel does not poll
    yield widget
    widget.shutdown()


def tick(panel, name):
    row = panel.runs.names().index(name)
    panel.runs.table.item(row, 0).setCheckState(Qt.CheckState.Checked)


def drawn_iterations(panel, name) -> list[int]:
    curves = panel.plots.curves_of(name)
    x = None if curves is None else curves.train_raw.getOriginalDataset()[0]
    return [] if x is None else [int(v) for v in x]


def finished_run(root: Path, name: str, points: int = 3):
    run = create_run(CONFIG, root, name=name)
    for i in range(1, points + 1):
        run.append_metrics({"iteration": i, "loss": 1.0 / i, "train_error": 0.5})
    run.set_status("finished", summary={"iterations": points, "total_iterations": points})
    run.close()
    return run


def test_a_run_trained_in_a_terminal_appears_and_grows(qtbot, panel, runs_dir):
    command = [sys.executable, "-m", "resnet_studio", "train", "--model", "cifar-resnet8",
               "--recipe", "quick", "--iters", "3000", "--image-size", "8", "--batch-size", "16",
               "--val-size", "64", "--eval-every", "1000", "--log-every", "5",
               "--checkpoint-every", "3000", "--runs-dir", str(runs_dir), "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: len(panel.runs.names()) == 1, timeout=TIMEOUT_MS)  # no click
        [name] = panel.runs.names()
        tick(panel, name)
        statuses, sizes = set(), set()

        def done() -> bool:
            statuses.add(panel.runs.status_of(name))
            sizes.add(len(drawn_iterations(panel, name)))
            return panel.runs.status_of(name) == "finished"

        qtbot.waitUntil(done, timeout=TIMEOUT_MS)
        assert process.wait(60) == 0, process.stderr.read().decode()[-2000:]
    finally:
        process.kill()
        process.wait()
    assert "running" in statuses  # running -> finished, both shown
    stored = [r["iteration"] for r in open_run(name, runs_dir).read_metrics() if "loss" in r]
    qtbot.waitUntil(lambda: drawn_iterations(panel, name) == stored, timeout=10_000)
    assert len(sizes) > 2  # the curve grew while the run trained, not only at its end


def test_a_half_written_line_is_drawn_once_complete(qtbot, panel, runs_dir):
    run = create_run(CONFIG, runs_dir, name="ext")
    run.set_status("running", summary={"iterations": 2, "total_iterations": 40})
    run.append_metrics({"iteration": 2, "loss": 1.0, "train_error": 0.5})
    qtbot.waitUntil(lambda: panel.runs.names() == ["ext"], timeout=10_000)
    tick(panel, "ext")
    assert drawn_iterations(panel, "ext") == [2]
    line = json.dumps({"iteration": 4, "loss": 0.8, "train_error": 0.4}).encode() + b"\n"
    with open(run.metrics_path, "ab") as f:
        f.write(line[:10])
    qtbot.waitUntil(lambda: panel.runs.table.item(0, 2).text().startswith("2 /"), timeout=10_000)
    qtbot.wait(2500)  # two polls see the half line
    assert drawn_iterations(panel, "ext") == [2] and panel.job_bar.message() == "Ready"
    with open(run.metrics_path, "ab") as f:
        f.write(line[10:])
    qtbot.waitUntil(lambda: drawn_iterations(panel, "ext") == [2, 4], timeout=10_000)
    qtbot.waitUntil(lambda: panel.runs.table.item(0, 2).text() == "4 / 40", timeout=10_000)
    run.set_status("finished", summary={"iterations": 4})
    qtbot.waitUntil(lambda: panel.runs.status_of("ext") == "finished", timeout=10_000)
    run.close()


def test_a_run_deleted_while_shown_leaves_quietly(qtbot, panel, runs_dir):
    finished_run(runs_dir, "keep")
    finished_run(runs_dir, "doomed")
    panel.refresh_runs()
    qtbot.waitUntil(lambda: sorted(panel.runs.names()) == ["doomed", "keep"], timeout=10_000)
    tick(panel, "doomed")
    tick(panel, "keep")
    assert sorted(panel.plots.run_names()) == ["doomed", "keep"]
    shutil.rmtree(runs_dir / "doomed")  # another process, or a file manager
    qtbot.waitUntil(lambda: panel.runs.names() == ["keep"], timeout=10_000)
    assert panel.plots.run_names() == ["keep"] and panel.runs.is_checked("keep")
    assert "doomed" not in panel.session.series
    assert "doomed was deleted" in panel.job_bar.message()  # a line, not a dialog


def test_a_hidden_panel_does_not_poll(qtbot, panel, runs_dir):
    qtbot.waitUntil(lambda: not panel.store.listing_due(), timeout=10_000)  # its first rows
    panel.hide()  # another tab is shown, or the window closed
    finished_run(runs_dir, "later")
    qtbot.wait(1500)
    assert panel.runs.names() == [] and not panel.store.watcher.is_polling()
    panel.show()
    qtbot.waitUntil(lambda: panel.runs.names() == ["later"], timeout=5_000)


def test_a_vanished_folder_is_a_message_and_polling_backs_off(qtbot, panel, runs_dir, tmp_path):
    finished_run(runs_dir, "a")
    panel.refresh_runs()
    qtbot.waitUntil(lambda: panel.runs.names() == ["a"], timeout=10_000)
    tick(panel, "a")
    os.rename(runs_dir, tmp_path / "unmounted")
    qtbot.waitUntil(lambda: str(runs_dir) in panel.runs.problem(), timeout=10_000)
    qtbot.waitUntil(lambda: panel.store.watcher.watch.failures >= 2, timeout=10_000)
    assert panel.store.watcher.watch.delay_s() >= 4.0  # asked less and less often
    assert panel.runs.names() == ["a"] and panel.plots.run_names() == ["a"]  # still shown
    assert panel.runs.count_label.text() == panel.runs.problem()
    os.rename(tmp_path / "unmounted", runs_dir)
    qtbot.waitUntil(lambda: panel.runs.problem() == "", timeout=20_000)
    assert panel.runs.count_label.text() == "1 run in the store"
    assert panel.store.watcher.watch.delay_s() == watch_module.INTERVAL_S


def test_a_mount_that_does_not_answer_never_freezes_the_window(qtbot, runs_dir, monkeypatch):
    finished_run(runs_dir, "a")
    release = threading.Event()
    original_poll, original_summary = StoreFollower.poll, store_module.summarize_run

    def hanging(self, *args, **kwargs):
        release.wait(60)  # a hard NFS mount whose server went away
        return original_poll(self, *args, **kwargs)

    def hanging_summary(path):  # what a listing on the GUI thread would read
        release.wait(10)
        return original_summary(path)

    monkeypatch.setattr(StoreFollower, "poll", hanging)
    monkeypatch.setattr(store_module, "summarize_run", hanging_summary)
    monkeypatch.setattr(watch_module, "SLOW_S", 0.5)
    widget = TrainingPanel(PanelContext(ModelState(), persist=False), runs_dir=runs_dir)
    qtbot.addWidget(widget)
    widget.show()
    try:
        qtbot.waitUntil(widget.store.watcher.is_polling, timeout=5_000)
        ticks = []
        timer = QTimer(interval=20)
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start()
        widget.runs.refresh_requested.emit()  # the Refresh button, while the mount hangs
        qtbot.waitUntil(lambda: "no answer" in widget.runs.problem(), timeout=5_000)
        qtbot.wait(1000)
        timer.stop()
        assert len(ticks) >= 25  # the GUI thread kept serving events (about 60 due)
        assert widget.store.watcher.is_polling()  # the very same poll, still waiting
        assert widget.runs.names() == []
        release.set()
        qtbot.waitUntil(lambda: widget.runs.problem() == "", timeout=10_000)
        qtbot.waitUntil(lambda: widget.runs.names() == ["a"], timeout=10_000)
    finally:
        release.set()
        widget.shutdown()


def test_the_panels_own_runs_are_drawn_once(qtbot, panel, runs_dir):
    """Its own job's points come from its events; the polls, which run meanwhile and
    go on after the job, add none of them a second time."""
    from tests.gui.test_training_panel import PAIR, tiny_recipe

    with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
        assert panel.start(PAIR[1:], tiny_recipe(iterations=24, eval_every=8))
    [result] = ended.args[0]
    qtbot.wait(2500)  # two polls after the job: the run is now followed like any other
    stored = open_run(result.name, runs_dir).read_metrics()
    assert drawn_iterations(panel, result.name) == [r["iteration"] for r in stored if "loss" in r]
    assert panel.session.series[result.name].records == stored
