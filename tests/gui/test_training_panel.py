"""The Training panel: a tiny comparison end to end, stop, quitting mid-run, the
runs table, smoothing and export. Nets are the 8-layer CIFAR pair on 8-px synthetic
images for a few iterations, so the whole file stays within seconds of CPU time."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import list_runs, open_run
from resnet_studio.gui import training_panel as panel_module
from resnet_studio.gui.plots import RunSeries, smooth, write_csv

pytestmark = pytest.mark.gui

PAIR = ["cifar-plain8", "cifar-resnet8"]
TINY = dict(image_size=8, batch_size=16, val_size=64, iterations=12, milestones=(9,),
            eval_every=6, log_every=2, checkpoint_every=6, seed=1)  # fmt: skip
TIMEOUT_MS = 240_000  # generous: the CI box may be shared


def tiny_recipe(**changes):
    return get_recipe("quick").with_overrides(**{**TINY, **changes})


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A throwaway run store; the env var guards against any default-dir fallback."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("RESNET_STUDIO_RUNS_DIR", str(folder))
    return folder


@pytest.fixture
def training(qtbot, runs_dir):
    panel = panel_module.TrainingPanel(runs_dir=runs_dir)
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def finish(qtbot, panel, recipe, models=PAIR):
    with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
        assert panel.start(models, recipe)
    return ended.args[0]


def test_a_comparison_draws_what_the_store_holds(qtbot, training, runs_dir):
    results = finish(qtbot, training, tiny_recipe())
    assert [r.status for r in results] == ["finished", "finished"]
    assert not training.is_running()
    for result in results:
        stored = open_run(result.name, runs_dir).read_metrics()
        curves = training.plots.curves_of(result.name)
        assert curves is not None, "a run of the comparison is drawn"
        x, y = curves.train_raw.getOriginalDataset()
        assert x.tolist() == [r["iteration"] for r in stored if "train_error" in r]
        assert np.allclose(y, [100 * r["train_error"] for r in stored if "train_error" in r])
        x, y = curves.test.getOriginalDataset()
        evals = [r for r in stored if "test_error" in r]
        assert x.tolist() == [r["iteration"] for r in evals] and len(evals) == 2
        assert np.allclose(y, [100 * r["test_error"] for r in evals])
    # plain nets on the left, ResNets in the middle, one colour per run everywhere
    plain, resnet = (training.plots.curves_of(r.name) for r in results)
    assert plain.test in training.plots.plain_plot.items
    assert resnet.test in training.plots.resnet_plot.items
    assert plain.color != resnet.color
    assert set(training.runs.checked_names()) == {r.name for r in results}
    assert training.runs.status_of(results[0].name) == "finished"


def test_stop_leaves_a_cancelled_run_with_a_checkpoint(qtbot, training, runs_dir):
    def stop_once_started():
        return any(s.train["loss"].size >= 1 for s in map(training.series, training._live))

    with qtbot.waitSignal(training.training_ended, timeout=TIMEOUT_MS) as ended:
        training.start(PAIR[1:], tiny_recipe(iterations=400, checkpoint_every=400))
        qtbot.waitUntil(stop_once_started, timeout=TIMEOUT_MS)
        training.stop()
    [result] = ended.args[0]
    assert result.status == "cancelled" and result.iterations < 400
    run = open_run(result.name, runs_dir)
    assert run.load_checkpoint() is not None
    assert training.runs.status_of(result.name) == "cancelled"
    training.runs.select([result.name])
    assert training.runs.resume_button.isEnabled()


def test_a_killed_training_process_is_a_message_not_a_crash(qtbot, training, runs_dir):
    """The engine's process dies (the OOM killer, say): the panel says what happened
    and how to go on, the run can be resumed, and the window carries on."""
    import multiprocessing
    import os
    import signal

    def started():
        return any(s.train["loss"].size >= 1 for s in map(training.series, training._live))

    with qtbot.waitSignal(training.training_ended, timeout=TIMEOUT_MS):
        training.start(PAIR[1:], tiny_recipe(iterations=100_000, checkpoint_every=2))
        qtbot.waitUntil(started, timeout=TIMEOUT_MS)
        [child] = multiprocessing.active_children()
        os.kill(child.pid, signal.SIGKILL)
    message = training.message_label.text()
    assert "killed by SIGKILL" in message and "resume" in message
    assert not training.is_running() and training.start_button.isEnabled()
    [summary] = list_runs(runs_dir)
    assert summary.stale  # killed mid-run: the list offers to resume it
    training.refresh_runs()
    training.runs.select([summary.name])
    assert training.runs.resume_button.isEnabled()


def test_closing_the_window_while_training_joins_the_thread(qtbot, runs_dir, monkeypatch):
    from resnet_studio.gui.main_window import MainWindow

    window = MainWindow(persist=True)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.core_loaded, timeout=60_000):
        window.start_loading()
    panel = window.panel("Training")
    assert panel is not None and window.export_plot_action.isEnabled()
    panel.runs_dir = runs_dir
    with qtbot.waitSignal(panel.training_started):
        panel.start(PAIR[1:], tiny_recipe(iterations=10_000))
    def engine_running() -> bool:  # the run has begun in the training process
        return runs_dir.exists() and any(r.status == "running" for r in list_runs(runs_dir))

    qtbot.waitUntil(engine_running, timeout=60_000)
    questions = []
    monkeypatch.setattr(panel_module, "ask", lambda *a: questions.append(a) or False)
    window.close()  # "No": the window stays and training goes on
    assert questions and panel.is_running() and window.isVisible()
    monkeypatch.setattr(panel_module, "ask", lambda *a: True)
    window.close()
    assert not panel.is_running()
    # the fixture in conftest fails the test if a thread or a process still runs
    [summary] = list_runs(runs_dir)
    assert summary.status == "cancelled"


def test_runs_table_overlays_and_deletes_past_runs(qtbot, training, runs_dir, monkeypatch):
    results = finish(qtbot, training, tiny_recipe(iterations=4, eval_every=4), models=PAIR[1:])
    name = results[0].name
    other = panel_module.TrainingPanel(runs_dir=runs_dir)  # "after a restart"
    qtbot.addWidget(other)
    assert other.runs.names() == [name] and other.plots.run_names() == []
    other.runs.table.item(0, 0).setCheckState(panel_module.Qt.CheckState.Checked)
    assert other.plots.run_names() == [name]
    assert other.series(name).train["loss"].size == len(
        [r for r in open_run(name, runs_dir).read_metrics() if "loss" in r])
    monkeypatch.setattr(panel_module, "ask", lambda *a: False)
    other.runs.select([name])
    other.runs.delete_button.click()
    assert list_runs(runs_dir) != []  # answered No
    monkeypatch.setattr(panel_module, "ask", lambda *a: True)
    other.runs.delete_button.click()
    assert list_runs(runs_dir) == [] and other.plots.run_names() == []
    other.shutdown()


def test_smoothing_is_tensorboards_debiased_ema():
    w, values = 0.6, [1.0, 3.0, 2.0, math.nan, 4.0]
    # by hand: ema_n = w*ema_(n-1) + (1-w)*v_n from 0, divided by 1 - w**n
    e1 = 0.4 * 1.0
    e2 = 0.6 * e1 + 0.4 * 3.0
    e3 = 0.6 * e2 + 0.4 * 2.0
    e4 = 0.6 * e3 + 0.4 * 4.0
    expected = [e1 / 0.4, e2 / (1 - 0.36), e3 / (1 - 0.216), math.nan, e4 / (1 - 0.6**4)]
    assert np.allclose(smooth(values, w), expected, equal_nan=True)
    assert smooth(values, w)[0] == 1.0  # debiased: starts at the first value
    assert np.allclose(smooth(values, 0.0), values, equal_nan=True)


def test_csv_export_writes_the_raw_points(tmp_path):
    series = RunSeries("run-a", "cifar-resnet8")
    series.extend([{"iteration": 2, "epoch": 0.1, "loss": 2.3, "train_error": 0.9, "lr": 0.1},
                   {"iteration": 4, "epoch": 0.2, "loss": 2.1, "train_error": 0.8, "lr": 0.1,
                    "val_error": 0.85, "test_error": 0.86}])  # fmt: skip
    path = tmp_path / "points.csv"
    assert write_csv(path, [series]) == 2
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["run"] == "run-a" and rows[0]["iteration"] == "2" and rows[0]["test_error"] == ""
    assert float(rows[1]["test_error"]) == 0.86 and float(rows[1]["loss"]) == 2.1


def test_panel_exports_png_svg_and_csv(qtbot, training, tmp_path):
    series = RunSeries("run-a", "cifar-plain8")
    series.extend({"iteration": i, "epoch": i / 10, "loss": 2.0 / i, "train_error": 0.5 / i}
                  for i in range(1, 50))  # fmt: skip
    training.plots.add_run(series)
    training.plots.set_log_y(True)
    training.plots.set_overlay(True)
    training.smooth_slider.setValue(90)
    for suffix in (".png", ".svg", ".csv"):
        path = tmp_path / f"plot{suffix}"
        training.export_to(path)
        assert path.stat().st_size > 0, suffix
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "plot.csv").read_text().splitlines()) == 50
