"""RunWatch (app.training.watch): what the Training panel does with each poll of the
store, without Qt: drawn runs get each new point once, the panel's own job is never
followed, runs trained elsewhere get a live row, deleted runs are reported, and a
vanished folder backs the polling off and says so."""

from __future__ import annotations

import os

from resnet_studio.app.training.session import TrainingSession
from resnet_studio.app.training.watch import RunWatch
from resnet_studio.core.runs import create_run, delete_run

CONFIG = {"model": "cifar-resnet8", "dataset": "synthetic",
          "recipe": {"lr": 0.1, "iterations": 40}}  # fmt: skip


def window(iteration: int, wall: float, **extra) -> dict:
    return {"iteration": iteration, "epoch": iteration / 10, "loss": 1.0 / iteration,
            "train_error": 0.5, "images_per_s": 800.0, "wall_time": wall, **extra}  # fmt: skip


def step(watch: RunWatch, session: TrainingSession, shown=(), own=(), now=0.0):
    """One poll, done right here instead of in a worker thread."""
    request = watch.request(shown, own)
    return watch.apply(request, RunWatch.poll(request), session, now=now)


def test_a_drawn_run_gets_each_new_point_once(tmp_path):
    run = create_run(CONFIG, tmp_path, name="ext")
    run.set_status("running", summary={"iterations": 0, "total_iterations": 40})
    for i in (2, 4):
        run.append_metrics(window(i, i * 0.1))
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    series = session.series_for("ext")  # ticked: read from the file, as the panel does
    assert step(watch, session, shown={"ext"}).points == 0  # already there: not again
    run.append_metrics(window(6, 0.6, test_error=0.25))
    run.append_metrics(window(8, 0.8))
    outcome = step(watch, session, shown={"ext"})
    assert outcome.points == 2
    assert series.train["iteration"].values.tolist() == [2, 4, 6, 8]
    assert series.evals["error"].values.tolist() == [0.25]
    assert series.records == run.read_metrics()
    run.close()


def test_a_resumed_run_is_drawn_from_its_rewritten_file(tmp_path):
    run = create_run(CONFIG, tmp_path, name="ext")
    for i in range(1, 9):
        run.append_metrics(window(i, i * 0.1))
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    series = session.series_for("ext")
    step(watch, session, shown={"ext"})
    run.truncate_metrics_after(4)  # what --resume does from a checkpoint at 4
    run.append_metrics(window(5, 0.55))
    step(watch, session, shown={"ext"})
    assert series.train["iteration"].values.tolist() == [1, 2, 3, 4, 5]
    assert series.records == run.read_metrics()
    run.close()


def test_the_panels_own_job_is_not_followed(tmp_path):
    run = create_run(CONFIG, tmp_path, name="mine")
    run.append_metrics(window(2, 0.2))
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    series = session.series_for("mine")
    run.append_metrics(window(4, 0.4))  # its events bring this point to the session
    outcome = step(watch, session, shown={"mine"}, own={"mine"})
    assert outcome.points == 0 and series.train["iteration"].values.tolist() == [2]
    assert "mine" not in watch.external  # its row is the job's LiveRun, not ours
    run.close()


def test_a_run_trained_elsewhere_gets_a_live_row(tmp_path):
    run = create_run(CONFIG, tmp_path, name="ext")
    run.set_status("running", summary={"iterations": 0, "total_iterations": 40})
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    outcome = step(watch, session)
    assert [s.name for s in outcome.listing] == ["ext"]
    run.append_metrics(window(10, 1.0))
    run.append_metrics(window(20, 3.0, test_error=0.3))
    live = step(watch, session).live["ext"]  # not drawn: followed for its progress only
    assert (live.status, live.iteration, live.total) == ("running", 20, 40)
    assert live.images_per_s == 800.0
    assert live.test_error == 0.3
    assert live.eta_s == 20 * (3.0 - 1.0) / 10  # iterations left x training s per iteration
    assert session.series == {}  # nothing drawn, nothing kept in memory
    run.set_status("finished", summary={"iterations": 20})
    outcome = step(watch, session)
    assert outcome.listing[0].status == "finished" and watch.external == {}
    run.close()


def test_a_stale_run_that_grows_is_training_on_another_machine(tmp_path):
    """On some network filesystems a lock taken on the cluster is not seen here: the
    run looks stale, but lines keep arriving, so it is shown as training."""
    run = create_run(CONFIG, tmp_path, name="ext")
    run.set_status("running", summary={"total_iterations": 40})
    run.append_metrics(window(1, 0.1))
    run.close()  # its lock is released: "stale" to this machine
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    assert step(watch, session, now=0.0).listing[0].stale
    assert watch.external == {}  # stale, and no line arrived since we looked
    with open(run.metrics_path, "a") as f:  # the cluster writes on
        f.write('{"iteration": 2, "loss": 0.5, "train_error": 0.4}\n')
    assert step(watch, session, now=1.0).live["ext"].iteration == 2
    assert "ext" in watch.external
    step(watch, session, now=500.0)  # quiet for long: it really stopped
    assert watch.external == {}


def test_a_deleted_run_is_reported(tmp_path):
    run = create_run(CONFIG, tmp_path, name="gone")
    run.set_status("finished")
    run.close()
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    session.series_for("gone")
    step(watch, session, shown={"gone"})
    delete_run("gone", tmp_path)
    outcome = step(watch, session, shown={"gone"})
    assert outcome.removed == ["gone"] and outcome.listing == []


def test_a_vanished_folder_backs_off_and_recovers(tmp_path):
    root = tmp_path / "runs"
    create_run(CONFIG, root, name="a").close()
    session, watch = TrainingSession(root), RunWatch(root, interval_s=1.0, max_interval_s=8.0)
    step(watch, session)
    assert watch.delay_s() == 1.0
    os.rename(root, tmp_path / "away")
    delays, problems = [], []
    for _ in range(5):
        problems.append(step(watch, session).problem)
        delays.append(watch.delay_s())
    assert delays == [2.0, 4.0, 8.0, 8.0, 8.0]
    assert str(root) in problems[0] and "Trying again in 2 s" in problems[0]
    create_run(CONFIG, tmp_path / "away", name="b").close()  # trained on meanwhile
    os.rename(tmp_path / "away", root)
    outcome = step(watch, session)
    assert outcome.problem == "" and watch.delay_s() == 1.0
    assert sorted(s.name for s in outcome.listing) == ["a", "b"]


def test_a_poll_older_than_the_panels_own_listing_is_not_drawn(tmp_path):
    create_run(CONFIG, tmp_path, name="a").close()
    session, watch = TrainingSession(tmp_path), RunWatch(tmp_path)
    request = watch.request((), ())
    poll = RunWatch.poll(request)
    watch.want_listing()  # the panel asked for its rows anew meanwhile
    assert watch.apply(request, poll, session).listing is None
    assert step(watch, session).listing is not None  # the next poll gives a full listing


def test_a_poll_of_a_previous_folder_is_ignored(tmp_path):
    create_run(CONFIG, tmp_path / "one", name="a").close()
    session, watch = TrainingSession(tmp_path / "one"), RunWatch(tmp_path / "one")
    request = watch.request((), ())
    poll = RunWatch.poll(request)
    watch.set_folder(tmp_path / "two")
    assert watch.apply(request, poll, session).listing is None
    assert step(watch, session).problem is None  # "two" does not exist yet: no error
