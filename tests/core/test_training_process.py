"""Training in a child process (core/training_process.py), as the app runs it: the
same runs as in-process, control from the parent, and every way the child can end."""

from __future__ import annotations

import os
import signal

import pytest

from resnet_studio.core.errors import StudioError
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import list_runs, open_run
from resnet_studio.core.train import ModelChoice, TrainControl, train
from resnet_studio.core.training_events import Checkpointed, Evaluated, Progressed, RunEnded
from resnet_studio.core.training_process import TrainingProcess, run_in_process
from tests.core.test_train import TINY, comparable

SHORTER = dict(iterations=30, milestones=(20,), eval_every=15)  # test_train's, 30 iterations


def tiny_recipe(**changes):
    return get_recipe("quick").with_overrides(**{**TINY, **SHORTER, **changes})


def test_a_run_in_a_process_equals_the_same_run_in_process(tmp_path):
    events = []
    [result] = run_in_process("train", [ModelChoice("cifar-resnet8", shortcut="B")],
                              recipe=tiny_recipe(), runs_dir=str(tmp_path / "child"),
                              on_event=events.append)  # fmt: skip
    [reference] = train([ModelChoice("cifar-resnet8", shortcut="B")], tiny_recipe(),
                        runs_dir=tmp_path / "here")  # fmt: skip
    assert result.status == "finished" and result.iterations == 30
    assert result.model == reference.model
    child = open_run(result.name, tmp_path / "child").read_metrics()
    here = open_run(reference.name, tmp_path / "here").read_metrics()
    for mine, theirs in zip(comparable(child), comparable(here), strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), (mine, key)
    # the events relayed are the engine's, typed again: a window per metrics record,
    # the evaluations, then the run's ending
    windows = [e for e in events if isinstance(e, Progressed)]
    assert [e.iteration for e in windows] == [r["iteration"] for r in child]
    assert [e.loss for e in windows] == [r["loss"] for r in child]
    evaluations = [e for e in events if isinstance(e, Evaluated)]
    assert [e.test_error for e in evaluations] == [r["test_error"] for r in child if "test_error" in r]
    assert isinstance(events[-1], RunEnded) and events[-1].status == "finished"


def test_stop_from_the_parent_leaves_a_cancelled_run_that_resumes(tmp_path):
    control = TrainControl()

    def stop_at_15(event):
        if isinstance(event, Progressed) and event.iteration >= 15:
            control.stop()

    [result] = run_in_process("train", ["cifar-resnet8"], recipe=tiny_recipe(),
                              runs_dir=str(tmp_path), on_event=stop_at_15, control=control)  # fmt: skip
    assert result.status == "cancelled" and 15 <= result.iterations < 30
    run = open_run(result.name, tmp_path)
    assert run.load_checkpoint().trainer_state["iteration"] == result.iterations
    [resumed] = run_in_process("resume", [result.name], runs_dir=str(tmp_path))
    assert resumed.status == "finished"
    # every log point once, in order; the stop arrives asynchronously, so the run may
    # also hold a record at the iteration it stopped at
    iterations = [r["iteration"] for r in run.read_metrics()]
    assert iterations == sorted(set(iterations))
    assert set(range(5, 31, 5)) <= set(iterations)
    assert set(iterations) - set(range(5, 31, 5)) <= {result.iterations}


def test_an_engine_error_arrives_with_its_message(tmp_path):
    with pytest.raises(StudioError, match="cifar-resnet9"):
        run_in_process("train", ["cifar-resnet9"], recipe=tiny_recipe(), runs_dir=str(tmp_path))


def test_a_killed_child_is_a_message_and_its_run_keeps_its_checkpoint(tmp_path):
    process = TrainingProcess("train", ["cifar-resnet8"], recipe=tiny_recipe(iterations=2000),
                              runs_dir=str(tmp_path))  # fmt: skip
    process.start()

    def kill_after_a_checkpoint(event):
        if isinstance(event, Checkpointed):
            os.kill(process.pid, signal.SIGKILL)

    try:
        with pytest.raises(StudioError, match="killed by SIGKILL.*resume"):
            process.wait(kill_after_a_checkpoint)
    finally:
        process.close()
    [summary] = list_runs(tmp_path)
    assert summary.stale  # "running" in its status, but no process holds it
    assert open_run(summary.name, tmp_path).load_checkpoint().trainer_state["iteration"] >= 10


def test_a_child_whose_parent_is_gone_saves_and_stops(tmp_path):
    """The parent's end of the pipe closes (the app crashed): the child stops its run
    as if told to, with a checkpoint, instead of training on unseen."""
    process = TrainingProcess("train", ["cifar-resnet8"], recipe=tiny_recipe(iterations=2000),
                              runs_dir=str(tmp_path))  # fmt: skip
    process.start()
    child = process._process

    def hang_up_at_the_first_metrics(event):
        if isinstance(event, Progressed):
            raise ConnectionAbortedError

    with pytest.raises(ConnectionAbortedError):
        process.wait(hang_up_at_the_first_metrics)
    process._conn.close()  # what the OS does when the parent dies
    child.join(120)
    assert child.exitcode == 0
    [summary] = list_runs(tmp_path)
    assert summary.status == "cancelled" and not summary.stale
    run = open_run(summary.name, tmp_path)
    assert run.load_checkpoint().trainer_state["iteration"] == run.read_metrics()[-1]["iteration"]
