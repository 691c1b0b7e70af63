"""The training engine: learning, repeatability, resume after kill -9, divergence,
cancel, and DDP against a single-process reference."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_studio.core.data import DeviceBatches, load_dataset
from resnet_studio.core.models import create_model
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import list_runs, open_run
from resnet_studio.core.train import TrainControl, resume, train
from resnet_studio.core.training_events import (
    Checkpointed,
    Evaluated,
    Progressed,
    RunFinished,
    RunStarted,
)

# A tiny but real setting: the 8-layer CIFAR net (n=1) on 8-px synthetic images.
TINY = dict(image_size=8, batch_size=32, val_size=256, iterations=40, milestones=(30,),
            eval_every=20, log_every=5, checkpoint_every=10, seed=3)
TIMING_KEYS = {"images_per_s", "wall_time", "eta_s"}


def tiny_recipe(**changes):
    return get_recipe("quick").with_overrides(**{**TINY, **changes})


def comparable(records):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in records]


def test_a_few_iterations_lower_the_loss(tmp_path):
    [result] = train(["cifar-resnet8"], tiny_recipe(iterations=60, lr=0.05), runs_dir=tmp_path)
    records = open_run(result.name, tmp_path).read_metrics()
    assert result.status == "finished"
    assert [r["iteration"] for r in records] == list(range(5, 61, 5))
    assert sum(r["loss"] for r in records[-3:]) < sum(r["loss"] for r in records[:3])
    assert records[-1]["val_error"] is not None and records[-1]["test_error"] is not None


def test_the_same_seed_gives_the_same_metrics(tmp_path):
    first = train(["cifar-resnet8"], tiny_recipe(iterations=20), runs_dir=tmp_path / "a")
    second = train(["cifar-resnet8"], tiny_recipe(iterations=20), runs_dir=tmp_path / "b")
    a = open_run(first[0].name, tmp_path / "a").read_metrics()
    b = open_run(second[0].name, tmp_path / "b").read_metrics()
    assert comparable(a) == comparable(b)


def test_a_comparison_trains_every_net_on_the_same_batches(tmp_path):
    events = []
    results = train(["cifar-resnet8", "cifar-plain8"], tiny_recipe(iterations=10),
                    runs_dir=tmp_path, on_event=events.append)
    assert [r.status for r in results] == ["finished", "finished"]
    runs = {s.model: s for s in list_runs(tmp_path)}
    assert set(runs) == {"cifar-resnet8", "cifar-plain8"}
    # interleaved: the two runs' records alternate rather than one finishing first
    order = [e.run for e in events if isinstance(e, Progressed)]
    assert order[:2] == [results[0].name, results[1].name]


def test_a_run_reports_typed_events_that_match_its_metrics_file(tmp_path):
    events = []
    [result] = train(["cifar-resnet8"], tiny_recipe(iterations=20), runs_dir=tmp_path,
                     on_event=events.append)  # fmt: skip
    records = open_run(result.name, tmp_path).read_metrics()
    runs = [e for e in events if hasattr(e, "run")]
    assert isinstance(runs[0], RunStarted) and runs[0].iteration == 0 and runs[0].total_iterations == 20
    assert isinstance(runs[-1], RunFinished) and runs[-1].iteration == 20
    windows = [e for e in events if isinstance(e, Progressed)]
    # core.eta: the first window is skipped, the second alone is too few, the end is 0
    assert [w.eta_s is None for w in windows] == [True, True, False, False]
    assert windows[2].eta_s > 0 and windows[3].eta_s == 0.0
    assert [w.record() for w in windows] == [
        {k: v for k, v in r.items() if k not in ("val_error", "test_error")} for r in records]
    evaluations = [e for e in events if isinstance(e, Evaluated)]
    assert [(e.iteration, e.val_error, e.test_error) for e in evaluations] == [
        (r["iteration"], r["val_error"], r["test_error"]) for r in records if "test_error" in r]
    # each evaluation comes right after the window it was measured at
    for evaluation in evaluations:
        before = events[events.index(evaluation) - 1]
        assert isinstance(before, Progressed) and before.iteration == evaluation.iteration
    assert [e.iteration for e in events if isinstance(e, Checkpointed)] == [10, 20]
    assert result.last == records[-1]


def test_nan_loss_stops_the_run_as_diverged_at_that_iteration(tmp_path, monkeypatch):
    real = nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(logits, target, *args, **kwargs):
        calls["n"] += 1
        loss = real(logits, target, *args, **kwargs)
        return loss * float("nan") if calls["n"] == 7 else loss

    monkeypatch.setattr(nn.functional, "cross_entropy", poisoned)
    [result] = train(["cifar-resnet8"], tiny_recipe(), runs_dir=tmp_path)
    assert result.status == "diverged"
    assert "iteration 7" in result.reason
    status = open_run(result.name, tmp_path).read_status()
    assert status["status"] == "diverged" and "iteration 7" in status["reason"]


def test_stop_leaves_a_cancelled_run_with_a_loadable_checkpoint(tmp_path):
    control = TrainControl()

    def stop_after_iteration_15(event):
        if isinstance(event, Progressed) and event.iteration >= 15:
            control.stop()

    [result] = train(["cifar-resnet8"], tiny_recipe(), runs_dir=tmp_path,
                     on_event=stop_after_iteration_15, control=control)
    assert result.status == "cancelled"
    run = open_run(result.name, tmp_path)
    checkpoint = run.load_checkpoint()
    assert checkpoint.trainer_state["iteration"] == result.iterations
    create_model("cifar-resnet8").load_state_dict(checkpoint.weights)
    # and it continues to the end with every iteration recorded once
    [resumed] = resume([result.name], runs_dir=tmp_path)
    assert resumed.status == "finished"
    iterations = [r["iteration"] for r in run.read_metrics()]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 40


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "resnet_studio", *args]


TINY_CLI = ["--model", "cifar-resnet8", "--image-size", "8", "--batch-size", "32",
            "--val-size", "256", "--iters", "80", "--milestones", "60", "--eval-every", "20",
            "--log-every", "5", "--checkpoint-every", "10", "--seed", "3", "--json"]


def test_kill_9_then_resume_continues_with_intact_metrics(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_cli("train", *TINY_CLI, "--runs-dir", str(reference_dir)),
                   check=True, capture_output=True, env=env, timeout=600)
    process = subprocess.Popen(_cli("train", *TINY_CLI, "--runs-dir", str(killed_dir)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        for line in process.stdout:  # kill it mid-way, between checkpoints
            event = json.loads(line)
            if event["event"] == "progressed" and event["iteration"] >= 35:
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait()
    [killed] = list_runs(killed_dir)
    assert killed.stale  # "running" in status.json but no process holds it
    subprocess.run(_cli("train", "--resume", killed.name, "--runs-dir", str(killed_dir), "--json"),
                   check=True, capture_output=True, env=env, timeout=600)
    [reference] = list_runs(reference_dir)
    expected = open_run(reference.name, reference_dir).read_metrics()
    got = open_run(killed.name, killed_dir).read_metrics()
    assert [r["iteration"] for r in got] == list(range(5, 81, 5))
    for mine, theirs in zip(comparable(got), comparable(expected), strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), (mine, key)
    assert list_runs(killed_dir)[0].status == "finished"


TEARDOWN_ABORT = "terminate called without an active exception"


def _finished(runs_dir, iterations: int) -> bool:
    summaries = list_runs(runs_dir)
    return len(summaries) == 1 and summaries[0].status == "finished" and summaries[0].iterations == iterations


def test_torchrun_two_cpu_processes_match_a_single_process_reference(tmp_path):
    """DDP with gloo: each rank takes half of every global batch; the averaged gradient
    must equal that of the mean of the two half-batch losses in one process."""
    iterations, batch, seed = 6, 32, 5
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master_port", str(29500 + os.getpid() % 1000),
               "-m", "resnet_studio", "train", "--model", "cifar-resnet8", "--image-size", "8",
               "--batch-size", str(batch), "--val-size", "256", "--iters", str(iterations),
               "--log-every", "3", "--eval-every", "6", "--checkpoint-every", "6",
               "--seed", str(seed), "--device", "cpu", "--runs-dir", str(tmp_path), "--json",
               # pinned here, so that the reference below stays right if `quick` is retuned
               "--lr", "0.1", "--momentum", "0.9", "--weight-decay", "1e-4", "--augment", "true",
               "--amp", "false"]  # the reference is fp32; bf16 rounds each half-batch apart
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0 and TEARDOWN_ABORT in done.stderr and _finished(tmp_path, iterations):
        # Seen once in about 16 runs (CI, 2026-12-03): after the run was complete on
        # disk, a rank aborted in gloo's teardown. Not understood yet (the ranks meet
        # at a barrier before destroy_process_group); it costs the exit status, not
        # the run. Once, in a fresh folder; a second abort, or any other failure, fails.
        tmp_path = tmp_path / "again"
        command[command.index("--runs-dir") + 1] = str(tmp_path)
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [summary] = list_runs(tmp_path)  # only rank 0 wrote the run store
    ddp_weights = open_run(summary.name, tmp_path).load_checkpoint().weights

    data = load_dataset("synthetic", image_size=8, val_size=256, seed=seed)
    torch.manual_seed(seed)
    model = create_model("cifar-resnet8", 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    shards = [DeviceBatches(data.train, batch, "cpu", train=True,
                            normalize=data.normalize("per-pixel"), seed=seed, augment=True,
                            rank=rank, world_size=2).epoch(0) for rank in range(2)]
    model.train()
    for _ in range(iterations):
        losses = [nn.functional.cross_entropy(model(x), y) for x, y in (next(s) for s in shards)]
        optimizer.zero_grad()
        (sum(losses) / 2).backward()
        optimizer.step()
    for name, tensor in model.state_dict().items():
        if "running" in name or "num_batches" in name:
            continue  # BN statistics: DDP keeps rank 0's, the reference saw both halves
        torch.testing.assert_close(ddp_weights[name], tensor, atol=1e-5, rtol=1e-4, msg=name)


def test_tensorboard_scalars_are_written_when_tensorboard_is_installed(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    [result] = train(["cifar-resnet8"], tiny_recipe(iterations=10), runs_dir=tmp_path)
    events = EventAccumulator(str(Path(result.path) / "tb"))
    events.Reload()
    losses = events.Scalars("loss")
    assert [e.step for e in losses] == [5, 10]
    assert losses[-1].value == pytest.approx(open_run(result.name, tmp_path).read_metrics()[-1]["loss"])
