import threading

import pytest

from resnet_studio.gui import workers

pytestmark = pytest.mark.gui


def test_result_arrives_in_gui_thread_after_join(qtbot):
    main = threading.get_ident()
    seen = {}

    def job(x):
        seen["thread"] = threading.get_ident()
        return x * 2

    worker = workers.Worker(job, 21)
    with qtbot.waitSignal(worker.finished, timeout=10_000) as blocker:
        worker.start()
    assert blocker.args == [42]
    assert seen["thread"] != main
    assert not worker.is_running() and worker not in workers.active_workers()


def test_progress_and_cooperative_cancel(qtbot):
    reports = []
    go_on = threading.Event()

    def job(job):
        job.progress(1, 10)
        go_on.wait(5)
        while True:  # a long job: stops only because progress() raises Cancelled
            job.progress(2, 10)

    worker = workers.run_in_thread(job, on_progress=lambda d, t: reports.append((d, t)))
    qtbot.waitUntil(lambda: bool(reports), timeout=10_000)
    with qtbot.waitSignal(worker.cancelled, timeout=10_000):
        worker.cancel()
        go_on.set()
    assert reports[0] == (1, 10)


def test_failure_carries_exception_and_traceback(qtbot):
    errors = []

    def job():
        raise ValueError("boom")

    worker = workers.run_in_thread(job, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert isinstance(errors[0], ValueError)
    assert "boom" in worker.traceback_text


def test_stop_all_joins_every_thread():
    release = threading.Event()

    def job(job):
        while not release.wait(0.01):
            job.check()

    for _ in range(3):
        workers.run_in_thread(job)
    assert len(workers.active_workers()) == 3
    assert workers.stop_all(timeout_s=10) == []
    assert workers.active_workers() == []


def test_worker_runs_once(qtbot):
    worker = workers.Worker(lambda: None)
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()
    with pytest.raises(RuntimeError):
        worker.start()
