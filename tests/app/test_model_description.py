"""summarize() and describe(): the Model panel's numbers (at once, from the table) and
its measurement with the module tree, and core's one layer-tree builder."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from resnet_studio.app.model import ModelSummary, describe, summarize
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


def test_summarize_gives_the_numbers_of_describe_without_the_tree(c56):
    quick = summarize(ModelChoice("cifar-resnet56"))
    assert quick.choice == c56.choice and quick.info == c56.info  # every field, the stages too
    assert quick.tree is None and not quick.complete and c56.complete


def test_options_outside_the_table_are_measured_by_describe():
    choice = ModelChoice("cifar-resnet20", 10, "B")
    assert summarize(choice) is None
    summary = describe(choice)
    assert summary.info.shortcut == "B" and summary.complete
    assert summary.info.params == 269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1 projections + BN


def test_summarize_runs_with_torch_unimportable():
    script = textwrap.dedent("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "numpy"}:
                    raise ImportError(name)

        sys.meta_path.insert(0, Block())
        from resnet_studio.app.model import ModelChoice, summarize
        info = summarize(ModelChoice("resnet152")).info
        print(info.params, len(info.stages))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60192808", "6"]  # torchvision's resnet152
