"""The Training panel's bindings: a tiny comparison end to end, stop, quitting
mid-run, the runs table, the plot bar and export. Nets are the 8-layer CIFAR pair on
8-px synthetic images for a few iterations, so the whole file stays within seconds
of CPU time. The bookkeeping itself (series, smoothing, CSV, the session's dispatch)
is tested without Qt in tests/app/test_training_*.py."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_studio.app.model import ModelState
from resnet_studio.app.training.series import RunSeries
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import list_runs, open_run
from resnet_studio.gui import training_panel as panel_module
from resnet_studio.gui.panel import Panel, PanelContext

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


def make_panel(runs_dir, model=None):
    return panel_module.TrainingPanel(PanelContext(model or ModelState()), runs_dir=runs_dir)


def listed(qtbot, panel):
    """The runs table's rows come from a poll in a worker thread: wait for them."""
    qtbot.waitUntil(lambda: not panel.store.listing_due(), timeout=10_000)
    return panel


def started(panel):
    """The engine has reported a first training point for a run of the job."""
    session = panel.session
    return any(session.series[name].train["loss"].size >= 1
               for name in session.live if name in session.series)  # fmt: skip


@pytest.fixture
def training(qtbot, runs_dir):
    panel = make_panel(runs_dir)
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def finish(qtbot, panel, recipe, models=PAIR):
    with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
        assert panel.start(models, recipe)
    listed(qtbot, panel)
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
        # gradient flow: the last window's norm of each of the 8 layers, by depth
        x, y = training.gradients.line_of(result.name).getOriginalDataset()
        assert x.tolist() == list(range(1, 9)) and np.allclose(y, stored[-1]["grad_norms"])
    # plain nets on the left, ResNets in the middle, one colour per run everywhere
    plain, resnet = (training.plots.curves_of(r.name) for r in results)
    assert plain.test in training.plots.plain_plot.items
    assert resnet.test in training.plots.resnet_plot.items
    assert training.gradients.line_of(results[0].name) in training.gradients.plain_plot.items
    assert training.gradients.line_of(results[1].name) in training.gradients.resnet_plot.items
    assert plain.color != resnet.color
    assert set(training.runs.checked_names()) == {r.name for r in results}
    assert training.runs.status_of(results[0].name) == "finished"
    assert {training.session.live[r.name].status for r in results} == {"finished"}
    assert training.job_bar.start_button.isEnabled()
    assert not training.job_bar.stop_button.isEnabled()


def test_stop_leaves_a_cancelled_run_with_a_checkpoint(qtbot, training, runs_dir):
    with qtbot.waitSignal(training.training_ended, timeout=TIMEOUT_MS) as ended:
        training.start(PAIR[1:], tiny_recipe(iterations=400, checkpoint_every=400))
        qtbot.waitUntil(lambda: started(training), timeout=TIMEOUT_MS)
        training.job_bar.stop_button.click()
    [result] = ended.args[0]
    listed(qtbot, training)
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

    with qtbot.waitSignal(training.training_ended, timeout=TIMEOUT_MS):
        training.start(PAIR[1:], tiny_recipe(iterations=100_000, checkpoint_every=2))
        qtbot.waitUntil(lambda: started(training), timeout=TIMEOUT_MS)
        [child] = multiprocessing.active_children()
        os.kill(child.pid, signal.SIGKILL)
    message = training.job_bar.message()
    assert "killed by SIGKILL" in message and "resume" in message
    assert not training.is_running() and training.job_bar.start_button.isEnabled()
    assert all(live.status == "failed" for live in training.session.live.values())
    [summary] = list_runs(runs_dir)
    assert summary.stale  # killed mid-run: the list offers to resume it
    training.refresh_runs()
    qtbot.waitUntil(lambda: training.runs.names() == [summary.name], timeout=10_000)
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
    other = make_panel(runs_dir)  # "after a restart"
    qtbot.addWidget(other)
    listed(qtbot, other)
    assert other.runs.names() == [name] and other.plots.run_names() == []
    other.runs.table.item(0, 0).setCheckState(panel_module.Qt.CheckState.Checked)
    assert other.plots.run_names() == [name]
    assert other.session.series[name].train["loss"].size == len(
        [r for r in open_run(name, runs_dir).read_metrics() if "loss" in r])
    monkeypatch.setattr(panel_module, "ask", lambda *a: False)
    other.runs.select([name])
    other.runs.delete_button.click()
    assert list_runs(runs_dir) != []  # answered No
    monkeypatch.setattr(panel_module, "ask", lambda *a: True)
    other.runs.delete_button.click()
    assert list_runs(runs_dir) == [] and other.plots.run_names() == []
    qtbot.waitUntil(lambda: other.runs.names() == [], timeout=10_000)
    other.shutdown()
    other.shutdown()


def test_panel_exports_png_svg_and_csv(qtbot, training, tmp_path):
    series = RunSeries("run-a", "cifar-plain8")
    series.extend({"iteration": i, "epoch": i / 10, "loss": 2.0 / i, "train_error": 0.5 / i}
                  for i in range(1, 50))  # fmt: skip
    training.plots.add_run(series)
    training.plots.set_log_y(True)
    training.plots.set_overlay(True)
    training.controls.smooth_slider.setValue(90)
    assert training.plots.smoothing == 0.9
    for suffix in (".png", ".svg", ".csv"):
        path = tmp_path / f"plot{suffix}"
        training.export_to(path)
        assert path.stat().st_size > 0, suffix
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "plot.csv").read_text().splitlines()) == 50


def test_the_panel_is_a_panel_and_follows_the_model_state(qtbot, runs_dir):
    model = ModelState()
    panel = make_panel(runs_dir, model)
    qtbot.addWidget(panel)
    assert isinstance(panel, Panel) and panel.TITLE == "Training"
    qtbot.waitUntil(panel.is_ready, timeout=10_000)  # once the runs table has its rows
    model.set_choice(ModelChoice("cifar-resnet20"))
    panel.form.add_current_requested.emit()  # the form's "Add current" button
    assert panel.form.models()[-1] == "cifar-resnet20"
    panel.apply_palette()
    panel.shutdown()


# ----------------------------------------------------------------- damaged runs

@pytest.fixture(scope="module")
def damaged_template(tmp_path_factory):
    from tests.core.test_damaged_runs import make_template

    return make_template(tmp_path_factory.mktemp("template"))


def _damaged_cases():
    from tests.core.test_damaged_runs import CASES

    return CASES


@pytest.mark.parametrize("case", _damaged_cases(), ids=[c.id for c in _damaged_cases()])
def test_a_damaged_run_is_a_message_in_the_panel(qtbot, runs_dir, damaged_template, case):
    """The runs table marks what the listing sees (the reason as the tooltip);
    resuming says which file is damaged and how, in the status line, without a
    dialog or a traceback; the run's bytes stay as they were; the panel carries on."""
    from resnet_studio.core.catalog import DAMAGED
    from resnet_studio.gui.run_list import STATUS
    from tests.core.test_damaged_runs import damaged_copy, snapshot

    runs_dir.mkdir()
    run = damaged_copy(damaged_template, runs_dir, case)
    before = snapshot(run)
    panel = make_panel(runs_dir)
    qtbot.addWidget(panel)
    try:
        listed(qtbot, panel)
        assert panel.runs.names() == [run.name]
        tooltip = panel.runs.table.item(0, STATUS).toolTip()
        if case.listed:
            assert panel.runs.status_of(run.name) == DAMAGED
            assert case.file in tooltip and case.says in tooltip
            panel.runs.select([run.name])
            assert not panel.runs.resume_button.isEnabled()
        if case.tensors:  # found by the engine, in its process, when the tensors load
            with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
                assert panel.resume_runs([run.name])
            assert ended.args[0] == []
        else:  # found before anything starts
            assert not panel.resume_runs([run.name])
        message = panel.job_bar.message()
        assert case.file in message and case.says in message, message
        assert "Traceback" not in message
        assert not panel.is_running() and panel.job_bar.start_button.isEnabled()
        assert snapshot(run) == before
    finally:
        panel.shutdown()


def test_ticking_a_run_with_damaged_metrics_says_which_line(qtbot, runs_dir, damaged_template):
    import shutil

    from tests.core.test_damaged_runs import garbage_mid_metrics

    runs_dir.mkdir()
    shutil.copytree(damaged_template, runs_dir / damaged_template.name)
    garbage_mid_metrics(runs_dir / damaged_template.name)
    panel = make_panel(runs_dir)
    qtbot.addWidget(panel)
    listed(qtbot, panel)
    panel.runs.table.item(0, 0).setCheckState(panel_module.Qt.CheckState.Checked)
    assert panel.plots.run_names() == [] and not panel.runs.is_checked(damaged_template.name)
    assert "metrics.jsonl is damaged: line 2" in panel.job_bar.message()
    panel.shutdown()


def test_offline_cifar_offers_the_synthetic_fallback(qtbot, training, runs_dir, tmp_path, monkeypatch):
    """CIFAR-10 cannot be downloaded (no network): the message names the URL and the
    path, and the panel offers the same comparison on the labelled synthetic data."""
    import socket

    from resnet_studio.core.weights import download

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv(download.MIRROR_ENV, f"http://127.0.0.1:{closed}/")  # inherited by the engine
    asked: list[str] = []
    monkeypatch.setattr(panel_module, "ask", lambda parent, title, text: asked.append(text) or True)
    restarted: list[bool] = []
    recipe = tiny_recipe(dataset="cifar10", download=True, data_root=str(tmp_path / "data"))
    with qtbot.waitSignal(training.training_ended, timeout=TIMEOUT_MS):
        assert training.start(PAIR, recipe)
        training.start = lambda *args, **kwargs: restarted.append(True) or True  # the retry, recorded
    [question] = asked
    assert "cifar-10-python.tar.gz" in question and str(tmp_path / "data") in question
    assert "synthetic" in question
    assert restarted == [True] and training.form.recipe().dataset == "synthetic"
    assert list_runs(runs_dir) == []  # nothing was created for the failed start
