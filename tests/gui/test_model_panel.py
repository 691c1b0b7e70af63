"""The Model panel: choosing networks, typing names, weights, drag and drop.

The panel draws `ModelState` (the `model_state` fixture): tests read the state for
what was chosen or loaded, and the widgets for what the user sees."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from resnet_studio.core.catalog import ModelChoice

pytestmark = pytest.mark.gui


def _choose(box, text: str) -> None:
    index = box.findText(text)
    assert index >= 0, f"{text!r} not in {[box.itemText(i) for i in range(box.count())]}"
    box.setCurrentIndex(index)


def _wait_shown(qtbot, panel, name: str) -> None:
    """Until the panel describes `name`, the state's choice (is_ready: they match)."""
    qtbot.waitUntil(lambda: panel.is_ready() and panel.state.choice.name == name, timeout=60_000)


def test_cifar_depth_56_shows_853018_parameters(qtbot, panel, model_state):
    chooser = panel.chooser
    chooser.set_name("resnet18")  # start elsewhere, then pick with the controls
    _wait_shown(qtbot, panel, "resnet18")
    chooser.family_box.setCurrentIndex(chooser.family_box.findData("cifar"))
    _choose(chooser.depth_box, "56")
    _wait_shown(qtbot, panel, "cifar-resnet56")
    assert panel.params_label.text() == "853,018"  # Table 6: ResNet-56, 0.85M
    assert model_state.choice == ModelChoice("cifar-resnet56", 10, "A")
    table = panel.stage_table
    assert table.item(table.rowCount() - 1, 4).text() == "853,018"
    assert table.item(2, 0).text().startswith("conv3_x")
    item = panel.layer_tree.find_path("layer1.0.conv1")
    assert item is not None and item.text(1) == "Conv2d 3×3, 16→16" and item.text(2) == "2,304"
    assert panel.layer_tree.find_path("layer1.0").text(0) == "layer1.0"  # as in state_dicts


def test_typing_a_name_updates_the_controls(qtbot, panel, model_state):
    chooser = panel.chooser
    line = chooser.name_box.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "plain101-v1d")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chooser.choice().name == "plain101-v1d", timeout=5_000)
    assert chooser.family_box.currentData() == "imagenet"
    assert chooser.depth_box.currentText() == "101"
    assert chooser.variant_box.currentText() == "v1d"
    assert chooser.plain_button.isChecked()
    assert not chooser.shortcut_box.isEnabled()
    assert chooser.classes_box.value() == 1000
    assert model_state.choice == ModelChoice("plain101-v1d", 1000, None)
    _wait_shown(qtbot, panel, "plain101-v1d")


def test_any_6n_plus_2_depth_and_bad_names(qtbot, panel, model_state):
    chooser = panel.chooser
    assert chooser.set_name("cifar-resnet62")
    assert chooser.depth_box.currentText() == "62"
    assert not chooser.set_name("resnet57")  # refused with core's message, nothing changes
    assert not panel.error_label.isHidden()
    assert "Table 1" in panel.error_label.text()
    assert chooser.choice().name == model_state.choice.name == "cifar-resnet62"
    _wait_shown(qtbot, panel, "cifar-resnet62")


def test_v1_only_for_bottlenecks(panel):
    chooser = panel.chooser
    chooser.set_name("resnet18")
    assert not chooser.variant_box.model().item(1).isEnabled()  # v1
    chooser.set_name("resnet50-v1")
    assert chooser.variant_box.model().item(1).isEnabled()
    assert chooser.variant_box.currentText() == "v1"
    assert panel.weights_box.torchvision_button.isEnabled() is False  # v1: no torchvision weights
    chooser.set_name("resnet50")
    assert panel.weights_box.torchvision_button.isEnabled()


def test_weights_for_another_network_show_the_mismatch(qtbot, panel, model_state, tmp_path):
    import torch

    from resnet_studio.core.models import create_model

    path = tmp_path / "resnet34.pth"
    torch.save(create_model("resnet34").state_dict(), path)
    panel.chooser.set_name("resnet18")
    panel.load_weights_file(path)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    text = panel.weights_box.status.text()
    assert "do not fit resnet18" in text, text
    assert model_state.weights is None
    _wait_shown(qtbot, panel, "resnet18")


def test_matching_weights_load_and_save(qtbot, panel, model_state, tmp_path):
    import torch

    from resnet_studio.core.models import create_model

    path = tmp_path / "c20.pth"
    torch.save(create_model("cifar-resnet20").state_dict(), path)
    panel.chooser.set_name("cifar-resnet20")
    changes = []
    model_state.changed.connect(lambda choice, weights: changes.append((choice, weights)))
    panel.load_weights_file(path)
    # the file's weights, not the shipped ones this net gets by default
    qtbot.waitUntil(lambda: model_state.weights is not None and model_state.weights.shipped is None,
                    timeout=60_000)  # fmt: skip
    assert changes[-1] == (ModelChoice("cifar-resnet20", 10, "A"), model_state.weights)
    assert "tensors matched" in panel.weights_box.status.text()
    out = tmp_path / "saved.safetensors"
    panel.save_weights_to(out)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=60_000)
    assert out.stat().st_size > 0, panel.weights_box.status.text()
    panel.chooser.set_name("cifar-resnet32")  # another architecture drops the weights
    assert model_state.weights is None
    assert "dropped" in panel.weights_box.status.text()
    _wait_shown(qtbot, panel, "cifar-resnet32")


def test_a_net_that_ships_trained_gets_those_weights_and_random_is_a_click(qtbot, panel, model_state):
    from resnet_studio.core.weights.shipped import shipped_weights

    box = panel.weights_box
    panel.chooser.set_name("cifar-plain20")
    qtbot.waitUntil(lambda: model_state.weights is not None, timeout=60_000)
    assert model_state.weights.shipped == shipped_weights("cifar-plain20")
    assert model_state.weights.shipped.label in box.status.text()
    assert box.random_button.text() == "Random weights" and box.random_button.isEnabled()
    box.random_button.click()
    assert model_state.weights is None and model_state.random_chosen
    assert "Random initialisation" in box.status.text() and box.random_button.text() == "Trained weights"
    qtbot.wait(200)  # no default load starts behind the user's back
    assert model_state.weights is None and box.settled()
    box.random_button.click()
    qtbot.waitUntil(lambda: model_state.weights is not None, timeout=60_000)
    assert model_state.weights.shipped == shipped_weights("cifar-plain20")
    panel.chooser.set_name("cifar-resnet32")  # nothing ships for it: random, and nothing to undo
    assert model_state.weights is None and not box.random_button.isEnabled()


def test_a_choice_made_elsewhere_shows_in_the_controls(qtbot, panel, model_state):
    model_state.set_choice(ModelChoice("resnet34-v1d", 1000, "C"))
    assert panel.chooser.choice() == ModelChoice("resnet34-v1d", 1000, "C")
    assert panel.chooser.shortcut_box.currentData() == "C"
    _wait_shown(qtbot, panel, "resnet34-v1d")
    assert panel.summary().info.shortcut == "C"


def _drag_events(path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(10, 10), action, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    drop = QDropEvent(QPointF(10, 10), action, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    return mime, enter, drop


def test_dropping_a_non_weight_file_is_refused(qtbot, panel, model_state, tmp_path):
    qtbot.waitUntil(panel.weights_box.settled, timeout=60_000)  # the default net's shipped weights
    before = model_state.weights
    path = tmp_path / "notes.txt"
    path.write_text("not weights")
    _mime, enter, drop = _drag_events(path)
    panel.dragEnterEvent(enter)
    assert not enter.isAccepted()
    assert "Not a weight file" in panel.weights_box.status.text()
    panel.dropEvent(drop)
    assert not drop.isAccepted()
    assert not panel.busy() and model_state.weights is before


def test_dropping_a_weight_file_is_accepted(qtbot, panel, model_state, tmp_path):
    qtbot.waitUntil(panel.weights_box.settled, timeout=60_000)
    before = model_state.weights
    path = tmp_path / "bad.pth"
    path.write_bytes(b"not a checkpoint")
    _mime, enter, drop = _drag_events(path)
    panel.dragEnterEvent(enter)
    assert enter.isAccepted()
    panel.dropEvent(drop)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=30_000)
    assert model_state.weights is before  # a damaged file is reported in the panel, no crash
    assert panel.weights_box.status.text()


def test_export_onnx_writes_a_checked_file(qtbot, panel, model_state, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from resnet_studio.core.export import onnx_metadata

    panel.chooser.set_name("cifar-resnet20")
    qtbot.waitUntil(panel.weights_box.settled, timeout=60_000)
    before = model_state.weights
    out = tmp_path / "c20.onnx"
    panel.weights_box.export_to(out)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=120_000)
    text = panel.weights_box.status.text()
    assert out.stat().st_size > 0, text
    assert str(out) in text and "onnxruntime matches torch" in text
    assert onnx_metadata(out)["model"] == "cifar-resnet20"
    assert model_state.weights is before  # exporting changes nothing
    _wait_shown(qtbot, panel, "cifar-resnet20")


def test_export_without_onnx_says_what_to_install(panel, monkeypatch, tmp_path):
    import importlib.util

    from PySide6.QtWidgets import QFileDialog

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: pytest.fail("asked")))
    panel.export_onnx()  # File > Export ONNX… and the panel's button
    text = panel.weights_box.status.text()
    assert "needs onnx" in text and "pip install 'resnet-studio[onnx]'" in text and not panel.busy()


def test_a_choice_shows_its_numbers_at_once_and_its_tree_when_built(qtbot, panel):
    from resnet_studio.core.model_table import listed_info

    panel.chooser.set_name("resnet50")  # no event loop turn: drawn from the table, not a worker
    assert panel.params_label.text() == "25,557,032" and panel.flops_label.text() == "4.09"
    table = panel.stage_table
    assert table.rowCount() == 7  # stem, layer1..4, head and the total
    assert table.item(6, 4).text() == "25,557,032" and table.item(4, 0).text() == "conv5_x (layer4)"
    assert "ImageNet (Table 1)" in panel.title.text() and "measuring" not in panel.title.text()
    assert panel.summary().info == listed_info("resnet50") and panel.summary().tree is None
    assert not panel.is_ready()  # the module tree is still to come
    tree = panel.layer_tree
    assert tree.topLevelItemCount() == 1 and tree.topLevelItem(0).isDisabled()  # one message line
    assert tree.find_path("layer1") is None  # no tree of the previous network under these numbers
    _wait_shown(qtbot, panel, "resnet50")
    assert tree.find_path("layer4.2.conv3").text(1) == "Conv2d 1×1, 512→2048"
    assert panel.summary().complete and panel.params_label.text() == "25,557,032"


def test_a_network_the_table_lacks_is_measured_in_the_worker(qtbot, panel, model_state):
    from resnet_studio.core.models import model_info

    model_state.set_choice(ModelChoice("cifar-resnet20", 10, "B"))  # the table has option A only
    assert "measuring…" in panel.title.text()
    _wait_shown(qtbot, panel, "cifar-resnet20")
    assert panel.params_label.text() == f"{model_info('cifar-resnet20', shortcut='B').params:,}"
    assert "shortcut option B" in panel.title.text()


def test_the_window_draws_the_model_panel_before_torch_is_imported():
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "torchvision"}:
                    raise ImportError(name)

        sys.meta_path.insert(0, Block())
        from PySide6.QtWidgets import QApplication

        app = QApplication([])
        from resnet_studio.gui.main_window import MainWindow

        window = MainWindow(persist=False)
        window.show()
        app.processEvents()
        panel = window.model_panel
        assert window.pages.currentWidget() is window.tabs and panel.isVisible()
        print(panel.params_label.text(), panel.flops_label.text(), panel.stage_table.rowCount(),
              "torch" in sys.modules)
        window.close()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["269,722", "40.55", "6", "False"]  # cifar-resnet20: 3 stages + stem, head, total
