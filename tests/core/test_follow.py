"""Following a run store that other processes write (core.runs.follow): only appended
bytes are read, a half-written line waits for its newline, a rewritten file starts
again, runs appear, change and vanish, a poll looks at a bounded number of runs, and
a vanished folder is an error message, not an exception."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from resnet_studio.core.errors import RunDamagedError
from resnet_studio.core.runs import create_run, delete_run, list_runs, open_run
from resnet_studio.core.runs import follow as follow_module
from resnet_studio.core.runs.follow import JsonlTail, StoreFollower
from resnet_studio.core.runs.records import parse_jsonl

CONFIG = {"model": "cifar-resnet8", "dataset": "synthetic",
          "recipe": {"lr": 0.1, "iterations": 40}}  # fmt: skip


def line(iteration: int, **extra) -> bytes:
    record = {"iteration": iteration, "loss": 1.0 / iteration, "train_error": 0.5, **extra}
    return json.dumps(record).encode() + b"\n"


def iterations(records) -> list[int]:
    return [r["iteration"] for r in records]


@pytest.fixture
def counted_reads(monkeypatch):
    """Every byte range the follower reads from a file: (file name, start, size)."""
    calls: list[tuple[str, int, int]] = []
    original = follow_module._read_at

    def reading(path, start, size):
        calls.append((Path(path).name, start, size))
        return original(path, start, size)

    monkeypatch.setattr(follow_module, "_read_at", reading)
    return calls


# ----------------------------------------------------------------- one file


def test_a_half_written_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    whole = line(1) + line(2)
    half = line(3)[:9]
    path.write_bytes(whole + half)
    tail = JsonlTail(path)
    read = tail.read()
    assert iterations(read.records) == [1, 2] and not read.reset
    assert tail.offset == len(whole) and tail.pending == len(half)
    assert tail.read().records == []  # nothing new: the half line is not parsed
    with open(path, "ab") as f:
        f.write(line(3)[9:] + line(4)[:5])
    assert iterations(tail.read().records) == [3]
    with open(path, "ab") as f:
        f.write(line(4)[5:])
    assert iterations(tail.read().records) == [4]
    assert tail.offset == path.stat().st_size and tail.pending == 0


def test_only_appended_bytes_are_read(tmp_path, counted_reads):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(1, 101)))
    size = path.stat().st_size
    tail = JsonlTail(path)
    assert len(tail.read().records) == 100
    for _ in range(3):
        assert tail.read().records == []  # a stat only: no read at all
    with open(path, "ab") as f:
        f.write(line(101))
    assert iterations(tail.read().records) == [101]
    assert counted_reads == [("metrics.jsonl", 0, size), ("metrics.jsonl", size, len(line(101)))]


def test_reads_are_capped_and_catch_up(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(1, 201)))
    tail = JsonlTail(path, max_bytes=1000)
    seen = []
    for _ in range(200):
        seen += tail.read().records
    assert iterations(seen) == list(range(1, 201))  # each once, in order, none lost


def test_from_end_starts_at_a_whole_line_near_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(follow_module, "TAIL_WINDOW_BYTES", 300)
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(1, 101)))
    records = JsonlTail(path, from_end=True).read().records
    assert 1 <= len(records) < 100 and iterations(records)[-1] == 100
    assert iterations(records) == list(range(101 - len(records), 101))  # no half line


def test_a_rewritten_file_starts_again(tmp_path):
    """`--resume` drops the records after the checkpoint by rewriting metrics.jsonl
    (atomically: a new file): the follower reads it anew and says so."""
    run = create_run(CONFIG, tmp_path)
    for i in range(1, 11):
        run.append_metrics({"iteration": i, "loss": 1.0})
    tail = JsonlTail(run.metrics_path)
    assert len(tail.read().records) == 10
    assert run.truncate_metrics_after(6) == 4
    run.append_metrics({"iteration": 7, "loss": 0.5})
    read = tail.read()
    assert read.reset and read.records == run.read_metrics() and iterations(read.records)[-1] == 7
    run.close()


def test_a_torn_tail_cut_in_place_is_not_spliced_onto_the_next_line(tmp_path):
    """A writer killed mid-line leaves a torn tail; the next writer cuts it in place
    (`drop_torn_tail`) and appends whole lines. The old half line never joins them."""
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1) + line(2)[:12])
    tail = JsonlTail(path)
    assert iterations(tail.read().records) == [1]
    with open(path, "rb+") as f:
        f.truncate(len(line(1)))
    with open(path, "ab") as f:
        f.write(line(2, lr=0.1) + line(3))
    read = tail.read()
    assert iterations(read.records) == [2, 3] and read.records[0]["lr"] == 0.1 and not read.reset


def test_garbage_mid_file_names_its_true_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1) + line(2))
    tail = JsonlTail(path)
    assert len(tail.read().records) == 2
    with open(path, "ab") as f:
        f.write(b"{not json\n" + line(4))
    with pytest.raises(RunDamagedError) as caught:
        tail.read()
    with pytest.raises(RunDamagedError) as whole:  # the store's reader of the whole file
        parse_jsonl(path.read_bytes(), path)
    assert str(caught.value) == str(whole.value) and "line 3" in str(caught.value)
    assert tail.read().records == []  # the same damaged file is not read again


def test_a_file_that_goes_away_resets(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1))
    tail = JsonlTail(path)
    assert len(tail.read().records) == 1
    path.unlink()
    assert tail.read().reset
    assert tail.read() == follow_module.TailRead()


# ----------------------------------------------------------------- a store


def finished_run(root: Path, name: str, points: int = 3):
    run = create_run(CONFIG, root, name=name)
    for i in range(1, points + 1):
        run.append_metrics({"iteration": i, "loss": 1.0, "train_error": 0.5})
    run.set_status("finished", summary={"iterations": points, "total_iterations": points})
    run.close()
    return run


def test_runs_appear_change_and_vanish(tmp_path):
    root = tmp_path / "runs"
    finished_run(root, "old")
    follower = StoreFollower(root)
    first = follower.poll()
    assert [s.name for s in first.listing] == ["old"] and first.listing[0].status == "finished"
    assert follower.poll().listing is None  # nothing changed: no new rows to draw

    run = create_run(CONFIG, root, name="new")  # another process starts a run
    run.set_status("running", summary={"iterations": 0, "total_iterations": 40})
    poll = follower.poll()
    assert {s.name: s.status for s in poll.listing} == {"old": "finished", "new": "running"}
    assert poll.listing == tuple(list_runs(root))  # the same rows as the listing's reader
    run.append_metrics({"iteration": 2, "loss": 0.9, "train_error": 0.4})
    [update] = follower.poll().updates  # running: followed for its progress
    assert update.name == "new" and iterations(update.records) == [2]
    run.set_status("finished", summary={"iterations": 2})
    poll = follower.poll()
    assert {s.name: s.status for s in poll.listing}["new"] == "finished"
    run.close()
    delete_run("new", root)
    poll = follower.poll()
    assert poll.removed == ("new",) and [s.name for s in poll.listing] == ["old"]


def test_a_run_whose_writer_died_turns_stale(tmp_path):
    root = tmp_path / "runs"
    run = create_run(CONFIG, root, name="r")
    follower = StoreFollower(root)
    assert not follower.poll().listing[0].stale  # this process holds its lock
    run.close()  # the writer is gone, its status.json still says "running"
    assert follower.poll().listing[0].stale


def test_followed_runs_are_read_in_full_skipped_ones_not_at_all(tmp_path, counted_reads):
    root = tmp_path / "runs"
    finished_run(root, "a", points=5)
    finished_run(root, "b", points=5)
    follower = StoreFollower(root)
    follower.poll()
    assert counted_reads == []  # finished and not drawn: the metrics are never read
    [update] = follower.poll(follow={"a", "b"}, skip={"b"}).updates
    assert update.name == "a" and iterations(update.records) == [1, 2, 3, 4, 5]
    assert [c[0] for c in counted_reads] == ["metrics.jsonl"]


def test_one_poll_looks_at_a_bounded_number_of_runs(tmp_path):
    root = tmp_path / "runs"
    for n in range(40):
        finished_run(root, f"run-{n:02d}", points=1)
    follower = StoreFollower(root, max_runs=16)
    assert len(follower.poll().listing) == 40  # the first poll lists every run, once
    looked: list[str] = []
    for _ in range(3):
        poll = follower.poll(follow={"run-39"})
        assert len(poll.looked_at) == 16 and "run-39" in poll.looked_at  # drawn: every poll
        looked += poll.looked_at
    assert set(looked) == {f"run-{n:02d}" for n in range(40)}  # the others, in turn


def test_a_missing_folder_is_quiet_a_vanished_one_is_an_error(tmp_path):
    root = tmp_path / "runs"
    follower = StoreFollower(root)
    assert follower.poll().error == ""  # no run yet: the folder is made by the first one
    assert follower.poll(full=True).listing == ()  # asked for rows: there are none yet
    finished_run(root, "a")
    assert [s.name for s in follower.poll().listing] == ["a"]
    os.rename(root, tmp_path / "elsewhere")  # the mount went away
    poll = follower.poll()
    assert str(root) in poll.error and "gone" in poll.error and poll.listing is None
    os.rename(tmp_path / "elsewhere", root)
    poll = follower.poll(full=True)
    assert poll.error == "" and [s.name for s in poll.listing] == ["a"]


def test_an_unmounted_mount_point_is_an_error_not_every_run_deleted(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    finished_run(root, "a")
    follower = StoreFollower(root)
    assert [s.name for s in follower.poll().listing] == ["a"]
    os.rename(root / "a", tmp_path / "a")  # what was mounted there is gone...
    monkeypatch.setattr(follow_module, "_device_of", lambda folder: -1)  # ...and its device
    poll = follower.poll()
    assert "mount seems to be gone" in poll.error and poll.removed == () and poll.listing is None
    os.rename(tmp_path / "a", root / "a")  # mounted again (a new device number, runs in it)
    poll = follower.poll(full=True)
    assert poll.error == "" and [s.name for s in poll.listing] == ["a"]


def test_a_folder_that_cannot_be_read_is_an_error(tmp_path):
    root = tmp_path / "runs"
    root.write_text("not a folder")
    poll = StoreFollower(root).poll()
    assert str(root) in poll.error and "cannot be read" in poll.error


# ----------------------------------------------------------------- another process

WRITER = """
import json, sys, time
from resnet_studio.core.runs import create_run
root, count = sys.argv[1], int(sys.argv[2])
run = create_run({"model": "cifar-resnet8", "recipe": {"iterations": count}}, root, name="live")
run.set_status("running", summary={"iterations": 0, "total_iterations": count})
path = run.metrics_path
with open(path, "ab", buffering=0) as f:
    for i in range(1, count + 1):
        data = json.dumps({"iteration": i, "loss": 1.0 / i, "train_error": 0.5}).encode() + b"\\n"
        f.write(data[:7])  # half a line, on the disk for a while
        time.sleep(0.01)
        f.write(data[7:])
run.set_status("finished", summary={"iterations": count, "total_iterations": count})
"""


def test_following_a_run_another_process_writes(tmp_path):
    root = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(root), "150"],
                              env=env)  # fmt: skip
    follower = StoreFollower(root)
    seen, statuses = [], []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = writer.poll() is not None
        poll = follower.poll(follow={"live"})
        assert poll.error == ""
        for update in poll.updates:
            assert not update.reset and not update.problem
            seen += update.records
        if poll.listing:
            statuses.append(poll.listing[0].status)
        if done and statuses[-1:] == ["finished"]:
            break
        time.sleep(0.005)
    assert writer.wait(10) == 0
    assert iterations(seen) == list(range(1, 151))  # every line once, never a half one
    assert seen == open_run("live", root).read_metrics()
    assert statuses[0] == "running" and statuses[-1] == "finished"
