"""The standby engine (core/engine_standby.py): a job sent to a booted child runs as a
cold child's does, stop and pause reach it, a dead standby falls back to a cold start
unseen, the pool keeps at most one standby and none while a job runs, and closing
reaps it at once. Each test boots a real child (an interpreter and a torch import)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from resnet_studio.core.engine_standby import EnginePool
from resnet_studio.core.runs import open_run
from resnet_studio.core.train import ModelChoice, TrainControl
from resnet_studio.core.training_events import Paused, Progressed, Resumed, RunEnded, RunStarted
from resnet_studio.core.training_process import NICENESS, TrainingProcess, run_in_process
from tests.core.test_train import comparable
from tests.core.test_training_process import tiny_recipe

BOOT_TIMEOUT_S = 180  # a shared 2-core box may be slow to import torch


@pytest.fixture
def pool():
    pool = EnginePool()
    yield pool
    pool.close()


def wait_ready(pool: EnginePool) -> int:
    """Wait until the pool's standby has imported the engine; its pid."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while pool.state() != "ready":
        assert pool.state() == "starting", "the standby died while booting"
        assert time.monotonic() < deadline, "the standby did not boot"
        time.sleep(0.05)
    return pool.pid


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: fields[0] is the state (field 3)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_ticks(pid: int) -> int:
    fields = stat_fields(pid)
    return int(fields[11]) + int(fields[12])  # utime + stime


def niceness(pid: int) -> int:
    return int(stat_fields(pid)[16])


def summary(events):
    """What the events say, without their timings."""
    return [(type(e).__name__, getattr(e, "iteration", None), getattr(e, "loss", None))
            for e in events]  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_a_standby_waits_without_cpu_at_the_childs_nice_level_and_runs_the_job_as_a_cold_child(
    pool, tmp_path
):
    assert pool.warm() and not pool.warm()  # never two standbys
    pid = wait_ready(pool)
    before = cpu_ticks(pid)
    time.sleep(1.0)
    assert cpu_ticks(pid) - before <= 1  # blocked on its pipe (a tick is 10 ms)
    assert niceness(pid) == min(niceness(os.getpid()) + NICENESS, 19)  # as a cold child's (19: the most)

    model = ModelChoice("cifar-resnet8", shortcut="B")
    warm_events, cold_events = [], []
    process = TrainingProcess("train", [model], recipe=tiny_recipe(), runs_dir=str(tmp_path / "warm"))
    with pool.job() as standby:
        assert standby is not None and standby.pid == pid
        assert not pool.warm()  # none while a job runs
        process.start(standby)
        assert process.warm and process.pid == pid
        try:
            [warm] = process.wait(warm_events.append)
        finally:
            process.close()
    assert pool.state() == "none"  # the used child exited; the next warm() starts anew
    [cold] = run_in_process("train", [model], recipe=tiny_recipe(), runs_dir=str(tmp_path / "cold"),
                            on_event=cold_events.append)  # fmt: skip
    assert warm.status == cold.status == "finished" and warm.iterations == cold.iterations == 30
    assert summary(warm_events) == summary(cold_events)
    assert isinstance(warm_events[0], RunStarted) and isinstance(warm_events[-1], RunEnded)
    mine = comparable(open_run(warm.name, tmp_path / "warm").read_metrics())
    theirs = comparable(open_run(cold.name, tmp_path / "cold").read_metrics())
    assert mine == theirs  # the same seed, the same engine: the very same numbers
    assert pool.warm()  # idle again: a fresh standby


def test_stop_and_pause_reach_a_standby(pool, tmp_path):
    pool.warm()
    wait_ready(pool)
    control = TrainControl()
    events = []

    def pause_then_stop(event):
        events.append(event)
        if isinstance(event, Progressed) and event.iteration == 5:
            control.pause()
        elif isinstance(event, Paused):
            control.resume()
        elif isinstance(event, Resumed):
            control.stop()

    [result] = run_in_process("train", ["cifar-resnet8"], recipe=tiny_recipe(iterations=2000),
                              runs_dir=str(tmp_path), on_event=pause_then_stop, control=control,
                              pool=pool)  # fmt: skip
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Paused") == 1 and kinds.count("Resumed") == 1
    assert kinds.index("Paused") < kinds.index("Resumed")
    assert result.status == "cancelled" and 5 <= result.iterations < 2000
    run = open_run(result.name, tmp_path)
    assert run.load_checkpoint().trainer_state["iteration"] == result.iterations
    assert pool.state() == "none"  # nothing booted while the job ran


def test_a_standby_killed_while_waiting_gives_way_to_a_cold_start(pool, tmp_path):
    pool.warm()
    pid = wait_ready(pool)
    os.kill(pid, signal.SIGKILL)
    events = []
    [result] = run_in_process("train", ["cifar-resnet8"], recipe=tiny_recipe(),
                              runs_dir=str(tmp_path), on_event=events.append, pool=pool)  # fmt: skip
    assert result.status == "finished" and result.iterations == 30
    assert [type(e).__name__ for e in events].count("RunStarted") == 1
    assert pool.warm() and pool.pid != pid  # a dead standby is replaced


def test_a_standby_that_dies_after_the_hand_over_but_before_it_took_the_job_falls_back(pool, tmp_path):
    """The job is in the pipe, the child never read it: nothing ran, so a cold child
    runs it, with one run folder and no error."""
    pool.warm()
    pid = wait_ready(pool)
    os.kill(pid, signal.SIGSTOP)  # alive (the hand-over succeeds) but it reads nothing
    process = TrainingProcess("train", ["cifar-resnet8"], recipe=tiny_recipe(), runs_dir=str(tmp_path))
    with pool.job() as standby:
        process.start(standby)
        assert process.warm
        os.kill(pid, signal.SIGKILL)
        try:
            [result] = process.wait()
        finally:
            process.close()
    assert not process.warm  # it ran cold
    assert result.status == "finished" and result.iterations == 30
    assert [p.name for p in tmp_path.iterdir()] == [result.name]


def test_closing_the_pool_reaps_a_booting_or_waiting_standby_at_once(pool):
    pool.warm()
    booting = pool.pid
    pool.close()  # while it still imports torch
    with pytest.raises(ProcessLookupError):  # killed and reaped: not even a zombie
        os.kill(booting, 0)
    assert pool.state() == "none" and not pool.warm()  # a closed pool starts none

    second = EnginePool()
    try:
        second.warm()
        waiting = wait_ready(second)
    finally:
        second.close()
    with pytest.raises(ProcessLookupError):
        os.kill(waiting, 0)
