"""The Training panel's bookkeeping without Qt: one dispatch of the typed events into
run series and live rows, resumed runs whose curve comes from the store, past runs
read back, and the status lines of a job's end."""

from __future__ import annotations

import pytest

from resnet_studio.app.training.session import (
    LiveRun,
    TrainingSession,
    failure_text,
    job_summary,
    starting_text,
)
from resnet_studio.core import training_events as ev
from resnet_studio.core.errors import StudioError
from resnet_studio.core.runs import create_run
from resnet_studio.core.runs.grad_layers import write_grad_layers
from resnet_studio.core.runs.layout import GRAD_LAYERS


def window(run, iteration, total=8, **changes):
    values = dict(run=run, iteration=iteration, epoch=iteration / 4, loss=2.0 / iteration,
                  train_error=0.5, lr=0.1, images_per_s=100.0, wall_time=0.1 * iteration,
                  eta_s=float(total - iteration), total_iterations=total)  # fmt: skip
    return ev.Progressed(**{**values, **changes})


def started(run, iteration=0, total=8, model="cifar-resnet8"):
    return ev.RunStarted(run=run, model=model, path=None, total_iterations=total,
                         iteration=iteration, batches_per_epoch=4)  # fmt: skip


@pytest.fixture
def session(tmp_path):
    messages = []
    session = TrainingSession(tmp_path)
    session.message.connect(messages.append)
    session.messages = messages  # what the status line would have shown
    return session


def test_a_run_is_followed_from_start_to_end(session):
    session.begin_job(shown=[])
    for event in (ev.Loading("synthetic", 1, 2), started("a"), window("a", 2), window("a", 4),
                  ev.Evaluated("a", 4, 1.0, val_error=0.5, test_error=0.25),
                  ev.Checkpointed("a", 4, "/x"), window("a", 8),
                  ev.RunFinished(run="a", iteration=8)):  # fmt: skip
        session.handle(event)
    series = session.series["a"]
    assert series.model == "cifar-resnet8"
    assert series.train["iteration"].values.tolist() == [2, 4, 8]
    assert series.evals["error"].values.tolist() == [0.25]
    assert [r.get("test_error") for r in series.records] == [None, 0.25, None]
    assert session.live["a"] == LiveRun(status="finished", iteration=8, total=8,
                                        images_per_s=100.0, eta_s=None, test_error=0.25)
    assert session.messages == ["Loading synthetic: 1/2 images", "Training…"]
    assert session.table_stale  # the new run's row is to be read from the store
    assert set(session.take_changed()) == {"a"} and session.take_changed() == {}


def test_pause_resume_and_a_job_that_ends_without_an_ending(session):
    session.begin_job(shown=[])
    session.handle(started("a"))
    session.handle(started("b"))
    session.handle(ev.Paused())
    session.handle(ev.Resumed())
    session.handle(ev.RunCancelled(run="a", iteration=3, reason="stopped by the user"))
    session.table_stale = False
    session.end_job()  # the process died: b never said how it ended
    assert session.messages[-2:] == ["Paused", "Training…"]
    assert session.live["a"].status == "cancelled" and session.live["a"].reason
    assert session.live["b"].status == "failed"
    assert session.table_stale and set(session.take_changed()) == {"a", "b"}


def test_events_of_runs_outside_the_job_change_nothing(session):
    session.handle(window("ghost", 2))
    session.handle(ev.RunFailed(run="ghost", iteration=2))
    assert session.series == {} and session.live == {} and session.take_changed() == {}


def _stored_run(runs_dir, iterations, shortcut="B"):
    run = create_run({"model": {"name": "cifar-resnet8", "shortcut": shortcut}}, runs_dir)
    for i in iterations:
        run.append_metrics({"iteration": i, "epoch": i / 4, "loss": 1.0, "train_error": 0.5})
    run.close()
    return run.name


def test_a_resumed_run_continues_the_curve_of_the_store(session, tmp_path):
    name = _stored_run(tmp_path, [2, 4, 6, 8])  # killed at 8, its checkpoint is at 6
    session.begin_job(shown=[])
    session.handle(started(name, iteration=6, total=12))
    series = session.series[name]
    assert series.train["iteration"].values.tolist() == [2, 4, 6]  # 8 is redone
    assert session.live[name].iteration == 6 and session.live[name].total == 12
    session.handle(window(name, 8, total=12))
    assert series.train["iteration"].values.tolist() == [2, 4, 6, 8]


def test_a_drawn_run_keeps_its_points_across_jobs_and_a_hidden_one_drops_them(session):
    session.begin_job(shown=[])
    session.handle(started("a"))
    session.handle(started("b"))
    session.handle(window("a", 2))
    session.set_shown("b", False)  # unticked while live: points kept, not re-ticked
    assert "b" in session.series and not session.live["b"].shown
    session.begin_job(shown=["a"])
    assert session.live == {} and set(session.series) == {"a"}
    session.set_shown("a", False)  # a past run unticked: re-read when ticked again
    assert session.series == {}


def test_a_past_run_is_read_back_from_its_metrics(session, tmp_path):
    name = _stored_run(tmp_path, [2, 4])
    series = session.series_for(name)
    assert series.model == "cifar-resnet8 (B)" and series.train["loss"].size == 2
    assert session.series_for(name) is series
    session.forget(name)
    assert name not in session.series
    with pytest.raises(StudioError):
        session.series_for("no-such-run")


def test_runs_have_points_waits_for_every_run_of_the_job(session):
    assert not session.runs_have_points(1)
    session.begin_job(shown=[])
    session.handle(started("a"))
    session.handle(started("b"))
    for i in (2, 4):
        session.handle(window("a", i))
        session.handle(window("b", i))
    session.handle(ev.Evaluated("a", 4, 1.0, val_error=0.5, test_error=0.5))
    assert session.runs_have_points(2, evaluations=0)
    assert not session.runs_have_points(2)  # b has no evaluation yet
    session.handle(ev.Evaluated("b", 4, 1.0, val_error=0.5, test_error=0.5))
    assert session.runs_have_points(2) and not session.runs_have_points(3)


class _Result:
    def __init__(self, status):
        self.status = status


def test_the_status_line_of_a_job_end():
    assert job_summary([_Result("finished"), _Result("finished")]) == ("Done: 2 finished.", False)
    text, bad = job_summary([_Result("finished"), _Result("diverged")])
    assert text == "Done: 1 finished, 1 diverged." and bad
    assert job_summary([]) == ("Done: nothing ran.", False)
    assert failure_text(StudioError("disk full")) == "Training failed: disk full"
    assert failure_text(KeyError("x")) == "Training failed: KeyError: 'x'"


def test_the_status_line_at_start_says_when_the_engine_must_start_first():
    assert starting_text("Training 2 nets", "ready") == "Training 2 nets…"
    for engine in ("starting", "none"):  # a standby still booting is a wait all the same
        assert starting_text("Resuming 1 run", engine) == "Resuming 1 run: starting the training engine…"


def test_the_data_the_curves_come_from_is_named(tmp_path):
    from resnet_studio.core.dataset_label import dataset_label

    session = TrainingSession(tmp_path)
    assert session.data_label() == ""
    synthetic = dataset_label({"name": "synthetic", "image_size": 16, "train": 9000, "val": 1000, "test": 2000})
    assert "not CIFAR-10" in synthetic and "16 px" in synthetic and "9,000 training" in synthetic
    session.handle(ev.RunStarted(run="a", model="cifar-resnet8", path=None, total_iterations=4,
                                 iteration=0, batches_per_epoch=2, dataset=synthetic))  # fmt: skip
    assert session.data_label() == f"Data: {synthetic}"


def test_gradient_norms_reach_the_series_live_and_from_the_store(session, tmp_path):
    session.begin_job(shown=[])
    session.handle(ev.RunStarted(run="a", model="cifar-plain8", path=None, total_iterations=8,
                                 iteration=0, batches_per_epoch=4, grad_layers=("conv1", "fc"),
                                 grad_depths=(1, 2)))  # fmt: skip
    session.handle(window("a", 2, grad_norms=(0.5, 0.25)))
    series = session.series["a"]
    assert series.grad_layers == ["conv1", "fc"] and series.records[-1]["grad_norms"] == [0.5, 0.25]
    x, y = series.latest_grad_norms()
    assert x.tolist() == [1, 2] and y.tolist() == [0.5, 0.25]
    # a past run: its records' norms and its grad_layers.json
    run = create_run({"model": {"name": "cifar-resnet8", "shortcut": "B"}}, tmp_path)
    run.append_metrics({"iteration": 2, "loss": 1.0, "train_error": 0.5, "grad_norms": [1.0, 2.0]})
    write_grad_layers(run.path, ["conv1", "fc"], [1, 2])
    run.close()
    stored = session.series_for(run.name)
    assert stored.grad_layers == ["conv1", "fc"] and stored.latest_grad_norms()[1].tolist() == [1.0, 2.0]
    # a damaged layer list costs the names, not the curve
    (run.path / GRAD_LAYERS).write_text("[1, 2]")
    session.forget(run.name)
    damaged = session.series_for(run.name)
    assert damaged.grad_layers == [] and damaged.latest_grad_norms()[0].tolist() == [1, 2]
