"""The Analyze… dialog: the window's network and its twin on slices of the shared
CIFAR-10 zips, the curves equal to the job's results, 2D maps, Cancel, errors, the
saved files, and File > Analyze…."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, load_weights, save_weights
from resnet_studio.gui.analysis_dialog import AnalysisDialog

pytestmark = pytest.mark.gui
TIMEOUT = 180_000
SHARED = Path("/work/shared/data/cifar10-jpeg")
needs_zips = pytest.mark.skipif(
    not (SHARED / "train.zip").is_file(), reason="the shared CIFAR-10 zips"
)


@pytest.fixture
def state(tmp_path):
    torch.manual_seed(0)
    path = save_weights(create_model("cifar-resnet20"), tmp_path / "r20.safetensors",
                        {"model": "cifar-resnet20", "class_names": CIFAR10_CLASSES})  # fmt: skip
    model = ModelState(ModelChoice("cifar-resnet20"))
    model.set_weights(load_weights(None, path))
    return model


def _dialog(qtbot, state) -> AnalysisDialog:
    dialog = AnalysisDialog(state, persist=False)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


@needs_zips
def test_a_lesion_study_of_the_network_and_its_twin_is_drawn(qtbot, state, tmp_path):
    dialog = _dialog(qtbot, state)
    assert dialog.warning_label.isHidden() and "cifar-plain20" in dialog.twin_box.text()
    dialog.twin_box.setChecked(True)
    dialog.twin_weights.edit.setText("random")
    dialog.lesion_data.edit.setText(str(SHARED / "test.zip"))
    dialog.lesion_images.setValue(20)
    dialog.lesion_draws.setValue(1)
    with qtbot.waitSignal(dialog.analysed, timeout=TIMEOUT) as done:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    resnet, plain = done.args[0]
    assert (resnet.model, plain.model, resnet.images) == ("cifar-resnet20", "cifar-plain20", 20)
    (x0, y0), (x1, y1) = dialog.lesion_plots.single.data()
    assert list(x0) == list(range(1, 10)) and list(y0) == resnet.single
    assert [i for i, v in enumerate(y1) if np.isnan(v)] == [3, 6]  # layer2.0, layer3.0: gaps
    assert [list(y) for _, y in dialog.lesion_plots.by_k.data()] == [resnet.mean_k, plain.mean_k]
    assert "layer2.0, layer3.0" in dialog.lesion_plots.caption.text()
    assert f"{resnet.error:6.2f} %" in dialog.summary.text()
    assert dialog.save_button.isEnabled() and not dialog.running()

    dialog.save_to(tmp_path / "out")
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT)
    assert (tmp_path / "out" / "lesion-single.png").is_file() and "Wrote" in dialog.message.text()
    dialog.shutdown()


@needs_zips
def test_a_2d_landscape_is_one_map_per_network(qtbot, state):
    dialog = _dialog(qtbot, state)
    dialog.tabs.setCurrentIndex(1)
    dialog.land_data.edit.setText(str(SHARED / "train.zip"))
    dialog.land_dims.setCurrentIndex(1)
    assert dialog.land_points.value() == 21  # the 2D default
    dialog.land_points.setValue(3)
    dialog.land_images.setValue(10)
    with qtbot.waitSignal(dialog.analysed, timeout=TIMEOUT) as done:
        assert dialog.start()
    (result,) = done.args[0]
    assert result.dims == 2 and len(result.loss) == 3
    assert dialog.land_plots.maps_box.isVisibleTo(
        dialog
    ) and not dialog.land_plots.line_box.isVisibleTo(dialog)
    assert sum(plot.isVisibleTo(dialog) for plot in dialog.land_plots.maps) == 1
    dialog.shutdown()


@needs_zips
def test_cancel_stops_the_job_and_keeps_the_dialog(qtbot, state):
    dialog = _dialog(qtbot, state)
    dialog.lesion_data.edit.setText(str(SHARED / "test.zip"))
    dialog.lesion_images.setValue(400)
    assert dialog.start()
    dialog.progress.valueChanged.connect(dialog.cancel)  # the first pass shown: Cancel
    qtbot.waitUntil(lambda: not dialog.running(), timeout=TIMEOUT)
    assert dialog.message.text() == "Cancelled." and "lesion" not in dialog.results
    assert dialog.run_button.isEnabled()
    dialog.shutdown()


def test_a_missing_dataset_is_a_message_not_a_job(qtbot, state, tmp_path):
    dialog = _dialog(qtbot, state)
    dialog.lesion_data.edit.setText(str(tmp_path / "nothing.zip"))
    assert not dialog.start() and not dialog.running()
    assert "does not exist" in dialog.message.text()
    dialog.lesion_data.edit.setText("")
    assert not dialog.start() and "Choose" in dialog.message.text()
    dialog.shutdown()


def test_file_analyze_opens_the_dialog_on_the_window_state(qtbot):
    from resnet_studio.gui.main_window import MainWindow

    window = MainWindow()  # temporary settings (conftest); persist=False would load a sample
    qtbot.addWidget(window)
    assert not window.analyze_action.isEnabled()  # until PyTorch is loaded
    with qtbot.waitSignal(window.core_loaded, timeout=60_000):
        window.start_loading()
    window.model_panel.chooser.set_name("cifar-resnet32")  # nothing ships for it: random weights
    window.analyze_action.trigger()
    dialog = window.analyze()  # the one dialog, raised again
    assert dialog.isVisible() and dialog.state is window.model
    assert "random initialisation" in dialog.warning_label.text()
    window.close()
