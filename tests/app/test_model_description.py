"""describe(): the Model panel's measurement, and core's one layer-tree builder."""

from __future__ import annotations

import pytest

from resnet_studio.app.model import ModelSummary, describe
from resnet_studio.core.catalog import ModelChoice


@pytest.fixture(scope="module")
def c56() -> ModelSummary:
    return describe(ModelChoice("cifar-resnet56"))


def _find(nodes, path):
    for root in nodes:
        for node in root.walk():
            if node.name == path:
                return node
    raise AssertionError(f"{path} not in the tree")


def test_describe_measures_on_the_meta_device(c56):
    assert c56.choice == ModelChoice("cifar-resnet56", 10, "A")  # resolved
    assert c56.info.params == 853_018  # Table 6: ResNet-56, 0.85M
    top = [node.name for node in c56.tree]
    assert top[0] == "conv1" and top[-2:] == ["avgpool", "fc"] and "layer3" in top


def test_the_module_tree_nests_as_state_dicts_with_params(c56):
    layer1 = _find(c56.tree, "layer1")
    assert layer1.kind == "stage" and layer1.text == "Sequential (9)"
    block = _find(c56.tree, "layer1.0")
    assert block.kind == "block" and block.label == "layer1.0"  # digits show the full path
    conv = _find(c56.tree, "layer1.0.conv1")
    assert (conv.kind, conv.label, conv.text, conv.params) == ("conv", "conv1", "Conv2d 3×3, 16→16", 2304)
    assert _find(c56.tree, "fc").text == "Linear 64→10"
    assert sum(node.params for node in c56.tree) == c56.info.params  # top level covers the net


def test_projection_shortcuts_show_as_shortcut_nodes():
    summary = describe(ModelChoice("resnet18"))
    down = _find(summary.tree, "layer2.0.downsample")
    assert down.kind == "shortcut"
    assert _find(summary.tree, "layer2.0.downsample.0").text == "Conv2d 1×1, 64→128, stride 2"
    assert _find(summary.tree, "maxpool").text == "MaxPool2d 3×3, stride 2"


def test_layer_tree_and_module_tree_describe_modules_alike():
    from resnet_studio.core.inspect.tree import layer_tree
    from resnet_studio.core.models import create_model

    model = create_model("cifar-resnet20")
    inspect_conv = _find(layer_tree(model), "layer1.0.conv1")
    assert inspect_conv.label == "conv1 (3x3, 16)"  # the inspection tree keeps its labels
    assert (inspect_conv.text, inspect_conv.params) == ("Conv2d 3×3, 16→16", 2304)
    assert _find(layer_tree(model), "layer1.0.residual").params == 0  # a tap


def test_an_unknown_name_is_a_studio_error():
    from resnet_studio.core.errors import StudioError

    with pytest.raises(StudioError):
        describe(ModelChoice("resnet57"))
