"""The run store: layout, metrics, atomic checkpoints, listing and safety."""

from __future__ import annotations

import errno
import json
import os
import pickle
import time
from pathlib import Path

import pytest
import torch

from resnet_studio.core import runs
from resnet_studio.core.errors import TrainingError
from resnet_studio.core.runs import (
    checkpoints,
    create_run,
    default_runs_dir,
    delete_run,
    list_runs,
    open_run,
)
from resnet_studio.core.runs import run as run_module

CONFIG = {"model": "resnet20", "dataset": "cifar10", "recipe": {"lr": 0.1, "epochs": 2}}


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))


def _trained(net: torch.nn.Module) -> torch.optim.SGD:
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(8, 4)).square().mean().backward()
        opt.step()
    return opt


def _save(run: runs.Run, iteration: int, net: torch.nn.Module, **kw) -> Path:
    return run.save_checkpoint(
        iteration,
        net.state_dict(),
        metadata={"model": "tiny"},
        extra_state={"optimizer": kw.pop("opt_state", {}), "rng": torch.get_rng_state()},
        trainer_state={"epoch": iteration // 10, "loader_position": 3},
        **kw,
    )


# ----------------------------------------------------------------- roots


def test_default_runs_dir_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv(runs.ENV_RUNS_DIR, str(tmp_path / "r"))
    assert default_runs_dir() == tmp_path / "r"
    monkeypatch.delenv(runs.ENV_RUNS_DIR)
    assert default_runs_dir().parts[-2:] == ("resnet-studio", "runs")


def test_env_dir_used_when_no_argument(monkeypatch, tmp_path):
    monkeypatch.setenv(runs.ENV_RUNS_DIR, str(tmp_path))
    with create_run(CONFIG) as run:
        assert run.path.parent == tmp_path
    assert [s.name for s in list_runs()] == [run.name]


# ----------------------------------------------------------------- create, open, list


def test_create_open_by_name_and_path(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    run.close()
    assert run.name.endswith("-resnet20") and len(run.name) == len("20250101-120000-resnet20")
    assert json.loads((run.path / "config.json").read_text()) == CONFIG
    assert run.read_status()["status"] == "running"
    assert open_run(run.name, runs_dir=tmp_path).config == CONFIG
    assert open_run(run.path).path == run.path
    assert open_run(str(run.path)).path == run.path
    assert open_run(run.name[:8], runs_dir=tmp_path).path == run.path  # unique prefix


def test_default_names_are_unique(tmp_path):
    a = create_run(CONFIG, runs_dir=tmp_path)
    b = create_run(CONFIG, runs_dir=tmp_path)
    assert a.name != b.name
    assert {a.name, b.name} <= {s.name for s in list_runs(tmp_path)}


def test_explicit_name_taken_or_bad(tmp_path):
    create_run(CONFIG, runs_dir=tmp_path, name="baseline").close()
    with pytest.raises(TrainingError, match="already exists"):
        create_run(CONFIG, runs_dir=tmp_path, name="baseline")
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(TrainingError, match="cannot be a run name"):
            create_run(CONFIG, runs_dir=tmp_path, name=bad)


def test_open_missing_or_non_run(tmp_path):
    with pytest.raises(TrainingError, match="No run named"):
        open_run("nope", runs_dir=tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(TrainingError, match="not a run folder"):
        open_run(tmp_path / "plain")


def test_list_newest_first_with_summary(tmp_path):
    old = create_run(CONFIG, runs_dir=tmp_path, name="old")
    old.set_status("finished", summary={"iterations": 10, "total_iterations": 10})
    status = json.loads((old.path / "status.json").read_text())
    status["created"] = "2020-01-01T00:00:00+00:00"
    (old.path / "status.json").write_text(json.dumps(status))
    new = create_run({"model": {"name": "resnet56"}, "dataset": {"name": "cifar100"},
                      "recipe": {}}, tmp_path)  # fmt: skip
    new.set_status("running", summary={"iterations": 5, "total_iterations": 20})
    new.set_status("running", summary={"best_val_error": 0.25})  # merged, not replaced
    listed = list_runs(tmp_path)
    assert [s.name for s in listed] == [new.name, "old"]
    top = listed[0]
    assert (top.model, top.dataset, top.status) == ("resnet56", "cifar100", "running")
    assert (top.iterations, top.total_iterations, top.best_val_error) == (5, 20, 0.25)
    assert top.progress == 0.25 and not top.stale  # this process holds its lock
    assert listed[1].status == "finished" and listed[1].created.year == 2020


def test_killed_running_run_is_stale(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    run.close()  # as if the process died: the OS drops the lock
    (summary,) = list_runs(tmp_path)
    assert summary.status == "running" and summary.stale


def test_listing_survives_corrupt_run(tmp_path):
    good = create_run(CONFIG, runs_dir=tmp_path, name="good")
    bad = create_run(CONFIG, runs_dir=tmp_path, name="bad")
    (bad.path / "status.json").write_text('{"status": "runn')
    half = tmp_path / "half"
    half.mkdir()
    (half / "status.json").write_text('{"status": "finished"}')
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    by_name = {s.name: s for s in list_runs(tmp_path)}
    assert set(by_name) == {"good", "bad", "half"}
    assert by_name["good"].status == "running"
    assert by_name["bad"].status == "damaged" and "status.json" in by_name["bad"].reason
    assert by_name["half"].status == "unknown" and "config.json" in by_name["half"].reason
    good.close()


def test_set_status_validates_and_writes_strict_json(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    with pytest.raises(ValueError):
        run.set_status("exploded")
    run.set_status("diverged", "loss became NaN at iteration 120", {"final_loss": float("nan")})
    doc = json.loads((run.path / "status.json").read_text(), parse_constant=pytest.fail)
    assert doc["status"] == "diverged" and doc["summary"]["final_loss"] is None
    assert doc["reason"].startswith("loss became NaN")


def test_second_writer_is_refused(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    other = open_run(run.path)
    assert other.config == CONFIG  # reading is always allowed
    with pytest.raises(TrainingError, match="another process"):
        other.append_metrics({"iteration": 1})
    run.close()
    other.append_metrics({"iteration": 1})
    other.close()


# ----------------------------------------------------------------- metrics


def test_metrics_round_trip(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    records = [
        {"iteration": i, "epoch": i // 20, "loss": 1.0 / (i + 1), "val_error": None, "lr": 0.1}
        for i in range(0, 100, 10)
    ]
    for rec in records:
        run.append_metrics(rec)
    run.append_metrics({"iteration": 100, "loss": float("inf"), "images_per_s": torch.tensor(5.5)})
    got = open_run(run.path).read_metrics()  # another reader, file still open for append
    assert got[:-1] == records
    assert got[-1] == {"iteration": 100, "loss": None, "images_per_s": 5.5}
    with pytest.raises(ValueError, match="iteration"):
        run.append_metrics({"loss": 1.0})


def test_disk_full_while_logging_is_a_training_error(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    run.append_metrics({"iteration": 1})

    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    run._metrics_fh = FullDisk()
    with pytest.raises(TrainingError, match="disk is full.*metrics"):
        run.append_metrics({"iteration": 2})


def test_truncate_after_with_torn_last_line(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    for i in range(1, 11):
        run.append_metrics({"iteration": i * 100, "loss": float(i)})
    run.close()
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"iteration": 1100, "lo')  # killed mid-write
    resumed = open_run(run.path)
    assert [r["iteration"] for r in resumed.read_metrics()][-1] == 1000  # torn line skipped
    assert resumed.truncate_metrics_after(400) == 7  # 500..1000 and the torn line
    assert [r["iteration"] for r in resumed.read_metrics()] == [100, 200, 300, 400]
    for i in range(5, 7):  # training redoes the iterations
        resumed.append_metrics({"iteration": i * 100, "loss": 0.0})
    iters = [r["iteration"] for r in resumed.read_metrics()]
    assert iters == [100, 200, 300, 400, 500, 600]
    assert run.metrics_path.read_bytes().endswith(b"\n")


def test_append_after_torn_line_starts_clean(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    run.append_metrics({"iteration": 1})
    run.close()
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"iteration": 2, "lo')
    again = open_run(run.path)
    again.append_metrics({"iteration": 2})
    assert again.read_metrics() == [{"iteration": 1}, {"iteration": 2}]


# ----------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_restores_sgd_momentum(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    assert run.load_checkpoint() is None
    net = _net()
    opt = _trained(net)
    folder = _save(run, 400, net, opt_state=opt.state_dict())
    assert folder == run.checkpoints_dir / "iter-00000400"
    assert json.loads((run.path / "checkpoint.json").read_text())["folder"] == folder.name

    weights, extra, trainer = open_run(run.path).load_checkpoint()
    assert trainer == {"epoch": 40, "loader_position": 3, "iteration": 400}
    for key, value in net.state_dict().items():
        assert torch.equal(weights[key], value)
    net2 = _net()
    net2.load_state_dict(weights)
    opt2 = torch.optim.SGD(net2.parameters(), lr=0.5, momentum=0.0)
    opt2.load_state_dict(extra["optimizer"])
    assert opt2.param_groups[0]["momentum"] == 0.9 and opt2.param_groups[0]["lr"] == 0.1
    for p, p2 in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(opt.state[p]["momentum_buffer"], opt2.state[p2]["momentum_buffer"])
    assert extra["rng"].dtype == torch.uint8


def test_old_checkpoints_pruned_and_keep(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    net = _net()
    for it in (100, 200, 300):
        _save(run, it, net)
    assert [p.name for p in checkpoints.checkpoint_folders(run.checkpoints_dir)] == ["iter-00000300"]
    _save(run, 400, net, keep=2)
    names = [p.name for p in checkpoints.checkpoint_folders(run.checkpoints_dir)]
    assert names == ["iter-00000400", "iter-00000300"]
    _save(run, 400, net)  # same iteration again: a new folder, never overwritten in place
    assert run.latest_checkpoint().name == "iter-00000400-1"
    assert run.load_checkpoint().trainer_state["iteration"] == 400


def test_disk_full_midway_keeps_previous(tmp_path, monkeypatch):
    run = create_run(CONFIG, runs_dir=tmp_path)
    net = _net()
    previous = _save(run, 100, net)
    real_save = torch.save

    def full_disk(obj, f, *a, **kw):
        real_save(obj, f, *a, **kw)
        f.truncate(10)  # half a file on disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(TrainingError, match="disk is full") as info:
        _save(run, 200, net)
    assert str(previous) in str(info.value) and "intact" in str(info.value)
    monkeypatch.undo()
    assert run.latest_checkpoint() == previous
    assert not list(run.checkpoints_dir.glob("*.tmp"))
    assert open_run(run.path).load_checkpoint().trainer_state["iteration"] == 100


def test_failure_writing_pointer_keeps_previous(tmp_path, monkeypatch):
    run = create_run(CONFIG, runs_dir=tmp_path)
    net = _net()
    previous = _save(run, 100, net)

    def full_disk(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_module, "atomic_write_json", full_disk)
    with pytest.raises(TrainingError, match="disk is full"):
        _save(run, 200, net)
    monkeypatch.undo()
    assert [p.name for p in checkpoints.checkpoint_folders(run.checkpoints_dir)] == [previous.name]
    assert run.load_checkpoint().trainer_state["iteration"] == 100


def test_leftovers_of_a_killed_save_are_ignored_then_cleaned(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    net = _net()
    previous = _save(run, 100, net)
    run.close()
    stray = run.checkpoints_dir / "iter-00000200.tmp"  # killed while writing files
    stray.mkdir()
    (stray / "model.safetensors").write_bytes(b"\x00" * 7)
    orphan = run.checkpoints_dir / "iter-00000300"  # killed between rename and pointer
    orphan.mkdir()
    (orphan / "trainer.json").write_text("{}")

    resumed = open_run(run.path)
    assert resumed.latest_checkpoint() == previous
    assert resumed.load_checkpoint().trainer_state["iteration"] == 100
    resumed.truncate_metrics_after(100)  # first write takes the lock and cleans up
    assert not stray.exists()
    _save(resumed, 200, net)
    assert not orphan.exists() and not previous.exists()


def test_missing_pointer_falls_back_to_newest_complete_folder(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    folder = _save(run, 100, _net())
    (run.path / "checkpoint.json").write_text("garbage")
    assert run.latest_checkpoint() == folder


def test_unsafe_pickle_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run = create_run(CONFIG, runs_dir=tmp_path / "runs")
    folder = _save(run, 100, _net())
    with open(folder / "state.pt", "wb") as f:
        pickle.dump({"optimizer": Evil()}, f, protocol=2)
    with pytest.raises(TrainingError, match="Refused to load .*could run code"):
        run.load_checkpoint()
    assert not marker.exists()
    torch.save({"optimizer": Evil()}, folder / "state.pt")  # the zip format too
    with pytest.raises(TrainingError, match="Refused to load"):
        run.load_checkpoint()
    assert not marker.exists()


def test_damaged_checkpoint_gives_clear_error(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    folder = _save(run, 100, _net())
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(TrainingError, match="damaged"):
        run.load_checkpoint()


def test_unsafe_extra_state_refused_at_save(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    with pytest.raises(TypeError, match=r"extra_state\['sched'\] is a .*Path"):
        run.save_checkpoint(1, _net().state_dict(), extra_state={"sched": Path(".")})
    assert run.latest_checkpoint() is None and not run.checkpoints_dir.exists()


# ----------------------------------------------------------------- delete


def test_delete_run_and_refusals(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path, name="doomed")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "keep.txt").write_text("precious")
    with pytest.raises(TrainingError, match="not a run folder"):
        delete_run(plain)
    with pytest.raises(TrainingError, match="not a run folder"):
        delete_run(tmp_path)
    assert (plain / "keep.txt").exists()
    with pytest.raises(TrainingError, match="another process"):
        delete_run("doomed", runs_dir=tmp_path)  # `run` still holds the lock
    delete_run(run)
    assert not run.path.exists() and list_runs(tmp_path) == []


def test_tensorboard_writer_is_optional(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    writer = run.tensorboard_writer()
    if writer is not None:
        writer.close()
        assert (run.path / "tb").is_dir()


# ----------------------------------------------------------------- real kill -9

_CHILD = """
import sys, torch
from resnet_studio.core.runs import open_run
run = open_run(sys.argv[1])
ckpt = run.load_checkpoint()
start = 0 if ckpt is None else ckpt.trainer_state["iteration"] + 1
run.truncate_metrics_after(start - 1)
for it in range(start, 10**9):
    run.append_metrics({"iteration": it, "loss": 1.0, "pad": "x" * 200})
    if it % 5 == 0:
        w = {"w": torch.full((64, 1024), float(it))}
        run.save_checkpoint(it, w, extra_state={"it": torch.tensor(it)},
                            trainer_state={"epoch": it // 50}, keep=2)
        if it == start + (-start % 5):  # the first save of this process is done
            print("ready", flush=True)
"""


@pytest.mark.slow
def test_kill_9_at_random_moments_never_loses_a_checkpoint(tmp_path):
    import random
    import subprocess
    import sys

    run = create_run(CONFIG, runs_dir=tmp_path)
    run.close()
    rng = random.Random(0)
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(run.path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        child.kill()
        child.wait()
        child.stdout.close()
        reader = open_run(run.path)
        weights, extra, trainer = reader.load_checkpoint()
        it = trainer["iteration"]
        assert torch.all(weights["w"] == it) and int(extra["it"]) == it
        iters = [r["iteration"] for r in reader.read_metrics()]
        assert iters[: it + 1] == list(range(it + 1))  # the checkpoint's metrics are all there
        assert iters == sorted(set(iters))  # no iteration logged twice across resumes
    assert it > 0
