"""The Evaluate… dialog: the window's weights on a slice of the shared CIFAR-10 JPEG
test zip (the shown top-1 is EvaluationJob's), published number and notes, per-class
table, confusion matrix with labels, the report, Cancel, errors, the random-weights
warning, and the Model panel's button and File menu action."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from resnet_studio.app.evaluation import EvaluationJob, EvaluationRequest
from resnet_studio.app.evaluation_form import DatasetChoice
from resnet_studio.app.model import ModelState
from resnet_studio.core.weights import CIFAR10_CLASSES, load_weights
from resnet_studio.gui import settings
from resnet_studio.gui.evaluation_dialog import FOLDER_KEY, EvaluationDialog
from tests.gui.served_weights import NAME, place_by_hand

pytestmark = pytest.mark.gui
TIMEOUT = 120_000
TEST_ZIP = Path("/work/shared/data/cifar10-jpeg/test.zip")
needs_zip = pytest.mark.skipif(not TEST_ZIP.is_file(), reason="the shared CIFAR-10 JPEG test zip")


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A ModelState holding the catalog's cifar-resnet20.akamaster (our file, in the cache)."""
    place_by_hand(tmp_path, monkeypatch)
    model = ModelState()
    model.set_weights(load_weights(None, NAME))
    return model


def _dialog(qtbot, state, persist=False) -> EvaluationDialog:
    dialog = EvaluationDialog(state, persist=persist)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _run(qtbot, dialog) -> None:
    with qtbot.waitSignal(dialog.evaluated, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)


@needs_zip
def test_the_shown_top1_is_the_jobs_beside_the_published_one(qtbot, state, tmp_path):
    dialog = _dialog(qtbot, state, persist=True)
    assert dialog.warning_label.isHidden() and NAME in dialog.model_label.text()
    dialog.set_dataset(DatasetChoice("zip", str(TEST_ZIP)))
    dialog.limit_box.setValue(100)
    dialog.batch_box.setValue(50)
    _run(qtbot, dialog)
    expected = EvaluationJob(EvaluationRequest(NAME, None, f"zip:{TEST_ZIP}", batch_size=50, limit=100),
                             loaded=state.weights).run()  # fmt: skip
    result = dialog.result
    assert result.images == expected.images == 100
    assert result.top1 == expected.top1 and result.top5 == expected.top5
    assert dialog.top1_label.text() == f"{expected.top1:.2f} %"
    assert dialog.published_label.text() == f"91.73 % ({expected.top1 - 91.73:+.2f} points)"
    assert "JPEG" in dialog.summary.text() and "published in" in dialog.summary.text()
    assert dialog.per_class.rowCount() == 10
    assert dialog.per_class.item(0, 0).text() == result.class_names[0]
    matrix = dialog.confusion.model()
    assert (matrix.rowCount(), matrix.columnCount()) == (10, 11)  # + "other"
    assert [matrix.headerData(i, Qt.Orientation.Horizontal) for i in range(10)] == result.class_names
    assert sorted(result.class_names) == sorted(CIFAR10_CLASSES)
    assert sum(map(sum, result.confusion)) == 100
    assert settings.last_folder(FOLDER_KEY) == str(TEST_ZIP.parent)  # remembered

    dialog.save_report_to(tmp_path / "report")
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT)
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "confusion.csv", "confusion.png", "eval.json", "per_class.csv"]
    assert "Wrote" in dialog.message.text()
    dialog.shutdown()


@needs_zip
def test_cancel_stops_and_keeps_the_dialog(qtbot, state):
    dialog = _dialog(qtbot, state)
    dialog.set_dataset(DatasetChoice("zip", str(TEST_ZIP)))
    dialog.batch_box.setValue(1)
    assert dialog.start()
    assert not dialog.start()  # one at a time
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT)
    assert dialog.result is None and dialog.message.text() == "Cancelled."
    assert dialog.run_button.isEnabled()
    dialog.shutdown()


def test_errors_show_in_the_dialog(qtbot, state, tmp_path):
    dialog = _dialog(qtbot, state)
    dialog.set_dataset(DatasetChoice("zip", ""))
    assert not dialog.start() and "Choose the zip file" in dialog.message.text()
    dialog.set_dataset(DatasetChoice("folder", str(tmp_path / "missing")))
    assert not dialog.start() and "does not exist" in dialog.message.text()
    for name in ("apple", "pear"):  # classes a CIFAR-10 net does not have
        (tmp_path / "fruit" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "fruit" / name / "0.png")
    dialog.set_dataset(DatasetChoice("folder", str(tmp_path / "fruit")))
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT)
    assert "not classes of the network" in dialog.message.text() and dialog.result is None
    assert dialog.isVisible() and dialog.run_button.isEnabled()
    dialog.shutdown()


def test_random_weights_warn_and_follow_the_state(qtbot, tmp_path, monkeypatch):
    model = ModelState()
    dialog = _dialog(qtbot, model)
    assert dialog.warning_label.isVisible() and "random initialisation" in dialog.warning_label.text()
    for i, name in enumerate(CIFAR10_CLASSES):
        (tmp_path / "data" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32), (20 * i, 0, 0)).save(tmp_path / "data" / name / "0.png")
    dialog.set_dataset(DatasetChoice("folder", str(tmp_path / "data")))
    _run(qtbot, dialog)  # it still runs: chance-level numbers, matched by index
    assert dialog.result.images == 10 and dialog.result.class_match == "index"
    assert dialog.published_label.text() == "not published"
    place_by_hand(tmp_path, monkeypatch)
    model.set_weights(load_weights(None, NAME))
    assert dialog.warning_label.isHidden() and NAME in dialog.model_label.text()
    dialog.shutdown()


def test_the_model_panel_and_the_file_menu_open_it(qtbot, panel):
    qtbot.mouseClick(panel.weights_box.evaluate_button, Qt.MouseButton.LeftButton)
    dialog = panel.evaluate()  # the same dialog, raised
    assert isinstance(dialog, EvaluationDialog) and dialog.isVisible() and dialog.state is panel.state
