"""A full disk while a run writes: one message whatever the layer raised it as, the
previous checkpoint still valid (the pointer names it, its bytes unchanged), and
resume working once space is freed.

The disk is a fake with a byte budget (`FakeDisk`): every write of a checkpoint goes
through it (safetensors' file, torch.save's stream, trainer.json, the pointer) and
the one that crosses the budget writes what fits, then fails as that layer fails on
a real full disk: OSError(ENOSPC) from a Python write, torch.save's
"enforce fail at inline_container.cc ... unexpected pos" RuntimeError (raised by
torch itself on the short write), safetensors' SafetensorError. `shutil.disk_usage`
reports what is left. A real tmpfs variant runs where mounting one is allowed.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import torch

from resnet_studio.cli import main
from resnet_studio.core.errors import DiskFullError, TrainingError
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import checkpoints, create_run, list_runs, open_run, records
from resnet_studio.core.runs import run as run_module
from resnet_studio.core.runs.records import is_disk_full
from resnet_studio.core.train import resume, train
from resnet_studio.core.training_events import Checkpointed, RunFailed

CONFIG = {"model": "resnet20", "dataset": "cifar10", "recipe": {}}
TINY = dict(image_size=8, batch_size=16, val_size=64, iterations=20, milestones=(15,),
            eval_every=10, log_every=5, checkpoint_every=10, seed=4)  # fmt: skip
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _BudgetFile(io.RawIOBase):
    """A file opened for writing whose writes draw on the disk's budget."""

    def __init__(self, disk: FakeDisk, real: io.BufferedWriter) -> None:
        self.disk, self.real = disk, real

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        fits = self.disk.take(len(data))
        self.real.write(data[:fits])
        if fits < len(data):
            raise OSError(ENOSPC.errno, ENOSPC.strerror)
        return len(data)

    def fileno(self) -> int:
        return self.real.fileno()

    def flush(self) -> None:
        if not self.real.closed:
            self.real.flush()

    def close(self) -> None:
        super().close()
        self.real.close()


class FakeDisk:
    """A disk with `budget` bytes left (None: unlimited, only counting)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.budget: int | None = None
        self.written = 0
        self.last_weights = 0  # bytes of the last safetensors file written
        self.failure: BaseException | None = None  # what the last failed save raised
        real_open, real_json = open, run_module.atomic_write_json
        from safetensors import torch as st

        real_save = st.save

        def fake_open(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            return _BudgetFile(self, f) if "w" in mode else f

        def fake_save_file(tensors, filename, metadata=None):
            from safetensors import SafetensorError

            data = real_save(tensors, metadata=metadata)
            self.last_weights = len(data)
            fits = self.take(len(data))
            Path(filename).write_bytes(data[:fits])
            if fits < len(data):
                raise SafetensorError("Error while serializing: I/O error: No space left on "
                                      f"device (os error {errno.ENOSPC})")  # fmt: skip

        def fake_write_json(path, obj):
            size = len(json.dumps(obj, indent=2)) + 1
            if self.take(size) < size:
                raise OSError(ENOSPC.errno, ENOSPC.strerror)
            real_json(path, obj)

        def fake_usage(path):
            free = 10**12 if self.budget is None else self.budget
            return shutil._ntuple_diskusage(10**12, 10**12 - free, free)

        real_write = run_module.write_checkpoint

        def recording_write(*args, **kwargs):
            try:
                return real_write(*args, **kwargs)
            except BaseException as exc:
                self.failure = exc
                raise

        monkeypatch.setattr(run_module, "write_checkpoint", recording_write)
        monkeypatch.setattr(checkpoints, "open", fake_open, raising=False)
        monkeypatch.setattr(st, "save_file", fake_save_file)
        monkeypatch.setattr(run_module, "atomic_write_json", fake_write_json)
        monkeypatch.setattr(records.shutil, "disk_usage", fake_usage)

    def take(self, size: int) -> int:
        """How many of `size` bytes fit; they are then used up."""
        fits = size if self.budget is None else max(0, min(size, self.budget))
        if self.budget is not None:
            self.budget -= fits
        self.written += fits
        return fits


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.BatchNorm1d(32))


def _save(run, iteration: int, net: torch.nn.Module) -> Path:
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 64)).sum().backward()
    optimizer.step()
    return run.save_checkpoint(iteration, net.state_dict(), metadata={"model": "tiny"},
                               extra_state={"optimizer": optimizer.state_dict()},
                               trainer_state={"epoch": 1})  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}  # fmt: skip


def _part_sizes(tmp_path: Path, monkeypatch) -> list[int]:
    """Bytes of each write of one checkpoint (weights, state, trainer, pointer)."""
    disk = FakeDisk(monkeypatch)
    run = create_run(CONFIG, runs_dir=tmp_path / "measure")
    sizes, last = [], 0
    real_take = disk.take

    def take(size):
        nonlocal last
        sizes.append(size)
        return real_take(size)

    disk.take = take
    _save(run, 1, _net())
    run.close()
    return sizes


# Where the disk fills, as (part, fraction of it written): in the weights, at the
# start of the optimizer state, in it, in trainer.json, at the pointer.
FILL_POINTS = [(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (2, 0.5), (3, 0.0)]


@pytest.mark.parametrize("part,fraction", FILL_POINTS,
                         ids=[f"part{p}-{int(100 * f)}pct" for p, f in FILL_POINTS])  # fmt: skip
def test_a_disk_filling_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, part,
                                                                   fraction):  # fmt: skip
    sizes = _part_sizes(tmp_path, monkeypatch)
    disk = FakeDisk(monkeypatch)
    run = create_run(CONFIG, runs_dir=tmp_path / "runs")
    net = _net()
    previous = _save(run, 100, net)
    before = snapshot(run.path)
    # the parts before `part` are written whole, `part` itself up to `fraction`
    disk.budget = sum(sizes[:part]) + int(fraction * sizes[part]) if part < len(sizes) else 0
    with pytest.raises(DiskFullError) as info:
        _save(run, 200, net)
    message = str(info.value)
    assert message.startswith("The disk is full: the checkpoint at iteration 200 could not be written")
    assert f"The previous checkpoint at {previous} is intact" in message
    assert message.endswith("Free some space, then resume.")
    assert "\n" not in message
    assert snapshot(run.path) == before  # the pointer names the previous one, bytes intact
    assert not list(run.checkpoints_dir.glob("*.tmp")) and run.latest_checkpoint() == previous
    disk.budget = None  # space freed
    assert _save(run, 200, net).name == "iter-00000200"
    assert open_run(run.path).load_checkpoint().trainer_state["iteration"] == 200


def test_torch_saves_short_write_error_alone_is_recognised_by_the_free_space(tmp_path, monkeypatch):
    """The issue's traceback: torch.save's RuntimeError, here without the OSError it
    usually carries as its context: the free space tells."""
    disk = FakeDisk(monkeypatch)
    run = create_run(CONFIG, runs_dir=tmp_path)
    net = _net()
    previous = _save(run, 10, net)

    def short_write(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 55808 vs 55696")

    monkeypatch.setattr(torch, "save", short_write)
    disk.budget = disk.last_weights + 1004  # the weights fit, then nearly nothing is left
    with pytest.raises(DiskFullError, match="iteration 20 could not be written.*1.0 kB free"):
        _save(run, 20, net)
    assert run.latest_checkpoint() == previous
    disk.budget = None  # a short write with room to spare is a write error, not a full disk
    with pytest.raises(TrainingError, match="could not be written \\(\\[enforce fail") as info:
        _save(run, 20, net)
    assert not isinstance(info.value, DiskFullError)


@pytest.mark.parametrize("exc", [
    ENOSPC,
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
], ids=["enospc", "torch-with-context", "edquot"])
def test_is_disk_full_reads_the_whole_chain(exc):
    if isinstance(exc, RuntimeError):
        try:
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError:
                raise exc from None  # torch's: the OSError as context only (suppressed)
        except RuntimeError as raised:
            raised.__suppress_context__ = False
            exc = raised
    assert is_disk_full(exc)
    assert not is_disk_full(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos"))
    assert not is_disk_full(OSError(errno.EIO, "Input/output error"))


def test_a_full_disk_while_logging_leaves_no_half_line(tmp_path):
    run = create_run(CONFIG, runs_dir=tmp_path)
    run.append_metrics({"iteration": 1})

    class FillingUp:  # writes 5 bytes, then the disk is full
        def __init__(self, real):
            self.real, self.calls = real, 0

        def write(self, data):
            self.calls += 1
            if self.calls == 1:
                return self.real.write(bytes(data)[:5])
            raise OSError(errno.ENOSPC, "No space left on device")

    run._metrics_fh = FillingUp(run._metrics_fh)
    with pytest.raises(DiskFullError, match="The disk is full: could not write the metrics"):
        run.append_metrics({"iteration": 2, "loss": 1.0})
    assert run.metrics_path.read_bytes() == b'{"iteration": 1}\n'


def test_training_on_a_full_disk_ends_with_the_message_and_resumes_once_freed(tmp_path,
                                                                             monkeypatch):  # fmt: skip
    """The disk fills in the second checkpoint's optimizer state, after its weights:
    torch.save's own short-write RuntimeError (an OSError as its context)."""
    disk = FakeDisk(monkeypatch)
    events = []

    def arm(event):
        events.append(event)
        if isinstance(event, Checkpointed) and event.iteration == 10:
            disk.budget = disk.last_weights + 20_000  # the weights fit, the state does not

    with pytest.raises(DiskFullError, match="checkpoint at iteration 20 could not be written"):
        train(["cifar-resnet8"], get_recipe("quick").with_overrides(**TINY),
              runs_dir=tmp_path, on_event=arm)  # fmt: skip
    [failed] = [e for e in events if isinstance(e, RunFailed)]
    assert failed.reason.startswith("The disk is full: the checkpoint at iteration 20")
    assert isinstance(disk.failure.__context__, OSError)  # what torch raised it from
    [summary] = list_runs(tmp_path)
    assert summary.status == "failed" or summary.stale  # status.json may not fit either
    run = open_run(summary.path)
    assert run.latest_checkpoint().name == "iter-00000010"
    assert run.load_checkpoint().trainer_state["iteration"] == 10
    disk.budget = None  # space freed
    [result] = resume([summary.name], runs_dir=tmp_path)
    assert result.status == "finished" and result.iterations == 20
    assert [r["iteration"] for r in run.read_metrics()] == [5, 10, 15, 20]


def test_the_cli_says_the_disk_is_full_in_one_line_then_resumes(tmp_path, monkeypatch, capsys):
    args = ["--model", "cifar-resnet8", "--image-size", "8", "--batch-size", "16",
            "--val-size", "64", "--iters", "10", "--log-every", "5", "--eval-every", "10",
            "--checkpoint-every", "10", "--runs-dir", str(tmp_path)]  # fmt: skip
    assert main(["train", *args]) == 0
    [summary] = list_runs(tmp_path)
    before = snapshot(summary.path / "checkpoints")
    disk = FakeDisk(monkeypatch)
    disk.budget = 2000
    code = main(["train", "--resume", summary.name, "--iters", "20", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err  # the progress lines, then the error's one line
    assert code == 2 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: The disk is full: the checkpoint at iteration 20 could not")
    assert last.endswith("Free some space, then resume.")
    assert "[failed: The disk is full: the checkpoint at iteration 20" in err
    assert snapshot(summary.path / "checkpoints") == before
    disk.budget = None
    assert main(["train", "--resume", summary.name, "--iters", "20", "--runs-dir", str(tmp_path)]) == 0
    assert list_runs(tmp_path)[0].status == "finished"


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 4 MB tmpfs where this process may mount one (root, no container limits)."""
    folder = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                                            str(folder)], capture_output=True).returncode:  # fmt: skip
        pytest.skip("mounting a tmpfs is not allowed here")
    try:
        yield folder
    finally:  # lazily: a traceback pytest keeps may still hold a file of it open
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow  # trains and resumes four times; the fakes above cover the same points
@pytest.mark.parametrize("left", [0.02, 0.3, 0.55, 0.8])
def test_a_real_small_tmpfs_filled_to_several_levels(small_tmpfs, left):
    """Fill the tmpfs after the first checkpoint so that only `left` of a checkpoint's
    size stays free: the second one fails in its weights (the first ~half) or in its
    optimizer state, and a real torch/safetensors error says so."""
    recipe = get_recipe("quick").with_overrides(**TINY)

    def fill(event):
        if isinstance(event, Checkpointed) and event.iteration == 10:
            size = sum(p.stat().st_size for p in Path(event.path).iterdir())
            free = shutil.disk_usage(small_tmpfs).free
            with open(small_tmpfs / "filler", "wb") as f:
                f.write(b"\0" * max(0, free - int(left * size)))

    with pytest.raises(DiskFullError, match="checkpoint at iteration 20 could not be written"):
        train(["cifar-resnet8"], recipe, runs_dir=small_tmpfs / "runs", on_event=fill)
    [summary] = list_runs(small_tmpfs / "runs")
    run = open_run(summary.path)
    assert run.load_checkpoint().trainer_state["iteration"] == 10
    assert not list(run.checkpoints_dir.glob("*.tmp"))
    (small_tmpfs / "filler").unlink()  # space freed
    [result] = resume([summary.name], runs_dir=small_tmpfs / "runs")
    assert result.status == "finished" and result.iterations == 20
