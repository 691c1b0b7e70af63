"""The Training panel with a standby engine (core/engine_standby.py): what the status
line says between Start and the first iteration, cold and warm; the job runs in the
standby; none boots while a job runs; closing the panel reaps the waiting one."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from resnet_studio.app.model import ModelState
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import open_run
from resnet_studio.gui import training_worker
from resnet_studio.gui.panel import PanelContext
from resnet_studio.gui.training_panel import TrainingPanel

pytestmark = pytest.mark.gui

CIFAR_TEST_ZIP = Path("/work/shared/data/cifar10-jpeg/test.zip")
PER_CLASS = 250  # 2,500 images: three progress reports (the decoder's chunks are 1,024)
TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def small_zip(tmp_path_factory) -> Path:
    """2,500 CIFAR-10 test JPEGs as an ImageFolder zip."""
    if not CIFAR_TEST_ZIP.is_file():
        pytest.skip("the CIFAR-10 JPEG copy is not on this machine")
    path = tmp_path_factory.mktemp("data") / "small.zip"
    counts: dict[str, int] = {}
    with zipfile.ZipFile(CIFAR_TEST_ZIP) as source, zipfile.ZipFile(path, "w") as target:
        for name in sorted(source.namelist()):
            parts = name.split("/")
            if len(parts) == 3 and parts[2] and counts.get(parts[1], 0) < PER_CLASS:
                counts[parts[1]] = counts.get(parts[1], 0) + 1
                target.writestr(f"train/{parts[1]}/{parts[2]}", source.read(name))
    return path


def zip_recipe(small_zip: Path, data_root: Path):
    """A few iterations on the zip; a fresh data_root, so it is decoded (not read from
    a cache) and reports its progress."""
    return get_recipe("quick").with_overrides(
        dataset=f"zip:{small_zip}", data_root=str(data_root), image_size=8, batch_size=16,
        val_size=100, iterations=4, milestones=(3,), eval_every=4, log_every=2,
        checkpoint_every=4, seed=1)  # fmt: skip


def record_messages(panel: TrainingPanel) -> list[str]:
    messages: list[str] = []
    show = panel.job_bar.show_message

    def recording(text: str, kind: str = "", details: str = "") -> None:
        messages.append(text)
        show(text, kind, details)

    panel.job_bar.show_message = recording
    return messages


def loading_lines(small_zip: Path) -> list[str]:
    total = 10 * PER_CLASS
    return [f"Loading zip:{small_zip}: {done:,}/{total:,} images" for done in (1024, 2048, total)]


def test_the_status_line_says_what_start_waits_for_and_a_standby_takes_the_next_job(
    qtbot, tmp_path, small_zip, monkeypatch
):
    monkeypatch.setattr(training_worker, "STANDBY_DELAY_MS", 300)
    panel = TrainingPanel(PanelContext(ModelState(), persist=False, standby=True),
                          runs_dir=tmp_path / "runs")  # fmt: skip
    qtbot.addWidget(panel)
    pool = panel.engine.pool
    try:
        # cold: Start before any standby booted (the panel was built a moment ago)
        messages = record_messages(panel)
        with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
            assert panel.start(["cifar-resnet8"], zip_recipe(small_zip, tmp_path / "root1"))
        assert pool.pid is None  # its timer fired during the job, and started nothing
        assert [r.status for r in ended.args[0]] == ["finished"]
        assert messages == ["Training 1 net: starting the training engine…",
                            *loading_lines(small_zip), "Training…", "Done: 1 finished."]  # fmt: skip

        # after the job, once idle: a standby boots and takes the next Start
        qtbot.waitUntil(lambda: pool.state() == "ready", timeout=TIMEOUT_MS)
        standby_pid = pool.pid
        messages.clear()
        with qtbot.waitSignal(panel.training_ended, timeout=TIMEOUT_MS) as ended:
            assert panel.start(["cifar-resnet8"], zip_recipe(small_zip, tmp_path / "root2"))
        [result] = ended.args[0]
        assert result.status == "finished"
        assert messages == ["Training 1 net…", *loading_lines(small_zip), "Training…",
                            "Done: 1 finished."]  # fmt: skip
        status = json.loads((open_run(result.name, tmp_path / "runs").path / "status.json").read_text())
        assert status["pid"] == standby_pid  # the run was trained by the standby

        # closing reaps the next standby at once
        qtbot.waitUntil(lambda: pool.state() == "ready", timeout=TIMEOUT_MS)
        waiting = pool.pid
        assert waiting != standby_pid
    finally:
        panel.shutdown()
    with pytest.raises(ProcessLookupError):  # killed and reaped: not even a zombie
        os.kill(waiting, 0)
