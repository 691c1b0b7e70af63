"""The Pretrained chooser in the Model panel: the catalog grouped by dataset, a
checkpoint downloaded from a loopback server and loaded into the window's ModelState
(then the Inspection panel classifies with its class names), Cancel mid-download,
and the offline message."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.weights import CIFAR10_CLASSES, download, pretrained
from resnet_studio.core.weights.pretrained import DATASET_ORDER
from resnet_studio.gui.main_window import MainWindow
from resnet_studio.gui.pretrained_chooser import NAME_ROLE
from tests.gui import served_weights
from tests.gui.served_weights import CUT_BYTES, NAME

pytestmark = pytest.mark.gui
served = served_weights.served  # the loopback server fixture
TIMEOUT = 60_000


def _groups(chooser) -> dict[str, list[str]]:
    tree = chooser.tree
    out = {}
    for g in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(g)
        out[group.text(0)] = [group.child(i).data(0, NAME_ROLE) for i in range(group.childCount())]
    return out


def _choose(qtbot, chooser, name: str) -> None:
    """Highlight the row and click Load pretrained, as a user does."""
    items = chooser.tree.findItems(name, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)
    assert len(items) == 1, name
    chooser.tree.setCurrentItem(items[0])
    assert chooser.load_button.isEnabled()
    qtbot.mouseClick(chooser.load_button, Qt.MouseButton.LeftButton)


def test_the_catalog_is_grouped_by_dataset_with_top1_and_cache(panel, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    chooser = panel.weights_box.pretrained
    chooser.fill()
    groups = _groups(chooser)
    datasets = [title.rsplit(" (", 1)[0] for title in groups]
    assert datasets == [d for d in DATASET_ORDER if d in datasets] and "CIFAR-10" in datasets
    listed = [name for names in groups.values() for name in names]
    assert sorted(listed) == sorted(pretrained.pretrained_names())  # every entry, once
    row = chooser.tree.findItems(NAME, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)[0]
    entry = pretrained.get_pretrained(NAME)
    assert (row.text(1), row.text(2), row.text(3)) == (entry.model, "91.73", "")  # not cached here
    chooser.filter_edit.setText("cub")
    assert list(_groups(chooser)) == ["CUB-200-2011 (1)"]
    assert not chooser.load_button.isEnabled()  # nothing chosen yet


@pytest.fixture
def window(qtbot):
    win = MainWindow(persist=False)  # persist False: the Inspection panel opens its sample
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.core_loaded, timeout=TIMEOUT):
        win.start_loading()
    yield win
    win.close()


def test_a_chosen_checkpoint_downloads_loads_and_classifies_with_its_names(qtbot, window, served):
    window.model.set_choice(ModelChoice("resnet18"))  # elsewhere: the weights bring their network
    box = window.model_panel.weights_box
    box.pretrained.fill()
    _choose(qtbot, box.pretrained, NAME)
    qtbot.waitUntil(lambda: window.model.weights is not None, timeout=TIMEOUT)
    weights = window.model.weights
    assert weights.pretrained.name == NAME and weights.class_names == list(CIFAR10_CLASSES)
    assert window.model.choice == ModelChoice("cifar-resnet20", 10, "A")
    assert window.model_panel.chooser.choice() == window.model.choice  # the controls show it
    text = box.status.text()
    assert NAME in text and "91.73" in text and "akamaster" in text and "airplane" in text, text
    assert box.pretrained.tree.currentItem().text(3) == "✓"  # cached now
    assert [p.name for p in served.cache_dir.iterdir()] == [served.entry.file_name]

    inspection = window.inspection
    qtbot.waitUntil(lambda: inspection.state.model is not None and not inspection.state.model.random_weights
                    and inspection.state.analysis is not None and inspection.is_ready(),
                    timeout=TIMEOUT)  # fmt: skip
    top = inspection.state.analysis.top
    assert top and all(score.name in CIFAR10_CLASSES for score in top)
    qtbot.waitUntil(window.is_ready, timeout=TIMEOUT)


def test_cancel_mid_download_leaves_no_file_and_no_change(qtbot, panel, model_state, served):
    served.handler.hold.set()  # the server stops after the first MiB
    qtbot.waitUntil(panel.weights_box.settled, timeout=TIMEOUT)  # the default net's shipped weights
    before = model_state.weights
    box = panel.weights_box
    box.pretrained.fill()
    _choose(qtbot, box.pretrained, NAME)
    partial = served.cache_dir / (served.entry.file_name + download.PARTIAL_SUFFIX)
    qtbot.waitUntil(lambda: any(p.name.endswith(download.PARTIAL_SUFFIX) and p.stat().st_size >= CUT_BYTES
                                for p in served.cache_dir.glob("*")), timeout=TIMEOUT)  # fmt: skip
    assert box.busy() and box.cancel_button.isVisibleTo(box)
    qtbot.mouseClick(box.cancel_button, Qt.MouseButton.LeftButton)
    served.handler.release.set()  # the next chunk arrives; its progress report cancels
    qtbot.waitUntil(lambda: not box.busy(), timeout=TIMEOUT)
    assert list(served.cache_dir.iterdir()) == [] and not partial.exists()  # no .partial
    assert model_state.weights is before and "Cancelled" in box.status.text()
    assert box.pretrained.tree.currentItem().text(3) == ""


def test_offline_shows_the_url_and_the_path_and_changes_nothing(qtbot, panel, model_state, served):
    served.stop()
    qtbot.waitUntil(panel.weights_box.settled, timeout=TIMEOUT)  # the default net's shipped weights
    before, weights_before = model_state.choice, model_state.weights
    box = panel.weights_box
    box.pretrained.fill()
    _choose(qtbot, box.pretrained, NAME)
    qtbot.waitUntil(lambda: not box.busy(), timeout=TIMEOUT)
    text = box.status.text()
    assert download.mirrored(served.entry.url) in text, text
    assert str(pretrained.cache_path(served.entry)) in text
    assert model_state.weights is weights_before and model_state.choice == before
    assert not served.cache_dir.exists() or list(served.cache_dir.iterdir()) == []
