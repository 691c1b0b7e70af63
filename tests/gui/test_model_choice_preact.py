"""The Model panel's controls offer the pre-activation nets (He et al. 2016b) as a
variant of every family, and the 9n+2 bottleneck CIFAR family."""

from __future__ import annotations

import pytest

from resnet_studio.core.catalog import ModelChoice
from resnet_studio.gui.model_choice import ModelChooser

pytestmark = pytest.mark.gui


def _choose_data(box, data: str) -> None:
    index = box.findData(data)
    assert index >= 0, f"{data!r} not in {[box.itemData(i) for i in range(box.count())]}"
    box.setCurrentIndex(index)


def test_the_controls_compose_pre_act_names(qtbot):
    chooser = ModelChooser()
    qtbot.addWidget(chooser)
    chooser.set_name("resnet50")
    _choose_data(chooser.variant_box, "preact")
    assert chooser.choice() == ModelChoice("resnet50-preact", 1000, "B")
    assert chooser.variant_box.currentText() == "preact"

    _choose_data(chooser.family_box, "cifar-bottleneck")  # keeps pre-act, first listed depth
    assert chooser.choice() == ModelChoice("cifar-resnet164-bottleneck-preact", 10, "B")
    assert [chooser.depth_box.itemText(i) for i in range(chooser.depth_box.count())] == ["164", "1001"]
    assert "9n+2" in chooser.depth_box.toolTip()

    _choose_data(chooser.variant_box, "paper")
    assert chooser.choice().name == "cifar-resnet164-bottleneck"
    chooser.plain_button.setChecked(True)
    assert chooser.choice() == ModelChoice("cifar-plain164-bottleneck", 10, None)


def test_typing_a_pre_act_name_sets_family_and_variant(qtbot):
    chooser = ModelChooser()
    qtbot.addWidget(chooser)
    assert chooser.set_name("cifar-resnet110-preact")
    assert chooser.family_box.currentData() == "cifar"
    assert chooser.variant_box.currentData() == "preact" and chooser.variant_box.isEnabled()
    assert chooser.choice() == ModelChoice("cifar-resnet110-preact", 10, "A")
    _choose_data(chooser.family_box, "imagenet")  # depth 110 is not in Table 1: the first one
    assert chooser.choice().name == "resnet18-preact"
    assert chooser.set_name("resnet18-cifar")  # the CIFAR-style family has no pre-act variant
    assert not chooser.variant_box.isEnabled()
    _choose_data(chooser.family_box, "imagenet")
    assert chooser.choice().name == "resnet18"
