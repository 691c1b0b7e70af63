"""The precomputed model table: every entry equals a fresh measurement with torch, so
`resnet-studio models` and the Model panel, which read it without torch, can never
show numbers the code does not give."""

from __future__ import annotations

import pytest

from resnet_studio.core.catalog import model_names
from resnet_studio.core.errors import ModelNameError
from resnet_studio.core.model_table import REGENERATE_COMMAND, listed_info, table_names
from resnet_studio.core.models import model_info

STALE = f"the model table is out of date: run `{REGENERATE_COMMAND}` and commit the table"


def test_the_table_holds_exactly_the_listed_names_in_order():
    assert table_names() == model_names(), STALE


def test_every_entry_equals_a_fresh_measurement():
    # every field, the stage rows included: about 10 s for the 58 nets on 2 cores
    # (model_info counts each distinct block once, on the meta device)
    stale = [name for name in model_names() if listed_info(name) != model_info(name)]
    assert not stale, f"{STALE}; these differ from core.models.model_info: {', '.join(stale)}"


def test_entries_carry_the_catalog_facts_and_the_paper_numbers():
    info = listed_info("cifar-resnet110")
    assert (info.family, info.depth, info.shortcut, info.num_classes, info.input_size) == ("cifar", 110, "A", 10, 32)
    assert info.params == 1_727_962  # Table 6: ResNet-110, 1.7M
    assert [stage.name for stage in info.stages] == ["stem", "layer1", "layer2", "layer3", "head"]
    assert info.macs == sum(stage.macs for stage in info.stages)
    assert listed_info("resnet50").to_dict()["gflops"] == pytest.approx(4.09, abs=0.005)  # torchvision: 4.09


def test_options_the_table_was_not_measured_for_are_left_to_measure():
    assert listed_info("cifar-resnet56", shortcut="A") == listed_info("cifar-resnet56")  # the default, spelt out
    assert listed_info("cifar-resnet56", 10, shortcut="a") is not None  # resolved like model_info
    assert listed_info("cifar-resnet56", shortcut="B") is None
    assert listed_info("resnet50", num_classes=10) is None
    assert listed_info("cifar-resnet62") is None  # a 6n+2 depth that is accepted but not listed


def test_bad_names_and_options_fail_as_model_info_does():
    with pytest.raises(ModelNameError, match="Table 1"):
        listed_info("resnet57")
    with pytest.raises(ModelNameError, match="plain net"):
        listed_info("plain18", shortcut="B")
