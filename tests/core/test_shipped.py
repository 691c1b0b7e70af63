"""Weights shipped in the package (`core.weights.shipped`): found by the net's name,
the default of that net and only with the options they were trained with, labelled
with their provenance; `--weights random` asks for a fresh initialisation.

No trained weights ship yet (issue 11 trains them), so a shipped folder is made here."""

import json

import pytest

from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.models import create_model
from resnet_studio.core.predict import Predictor, describe_weights
from resnet_studio.core.weights import (
    CIFAR10_CLASSES,
    resolve_model_and_weights,
    save_weights,
    shipped,
)

PROVENANCE = {"model": "cifar-resnet20", "epochs": 30.0, "test_top1": 88.14,
              "command": "resnet-studio train --model cifar-resnet20 ..."}  # fmt: skip


@pytest.fixture
def shipped_folder(tmp_path, monkeypatch):
    save_weights(create_model("cifar-resnet20"), tmp_path / "cifar-resnet20.safetensors",
                 {"model": "cifar-resnet20", "class_names": list(CIFAR10_CLASSES)})  # fmt: skip
    (tmp_path / "cifar-resnet20.json").write_text(json.dumps(PROVENANCE))
    save_weights(create_model("cifar-plain20"), tmp_path / "cifar-plain20.safetensors", {"model": "cifar-plain20"})
    monkeypatch.setattr(shipped, "_folder", lambda: tmp_path)  # cifar-plain20 lacks its JSON
    return tmp_path


def test_found_by_name_with_their_default_options_only(shipped_folder):
    assert shipped.shipped_names() == ["cifar-resnet20"]  # weights without provenance do not ship
    found = shipped.shipped_weights("CIFAR-ResNet20")
    assert found.path == shipped_folder / "cifar-resnet20.safetensors" and found.provenance == PROVENANCE
    assert found.label == "trained by resnet-studio: 30 epochs, 88.1 % on the CIFAR-10 test set"
    assert shipped.shipped_weights("cifar-resnet20", ModelChoice("cifar-resnet20", 10, "A")) is not None
    assert shipped.shipped_weights("cifar-resnet20", ModelChoice("cifar-resnet20", shortcut="B")) is None
    assert shipped.shipped_weights("cifar-resnet56") is None


def test_they_are_the_default_and_random_is_explicit(shipped_folder):
    result = resolve_model_and_weights("cifar-resnet20")
    assert result.shipped is not None and result.class_names == list(CIFAR10_CLASSES)
    assert describe_weights(result) == result.shipped.label
    assert resolve_model_and_weights("cifar-resnet20", "random") is None
    assert resolve_model_and_weights("cifar-resnet56") is None
    assert Predictor.from_name("cifar-resnet20", "random", device="cpu").random_weights
    assert not Predictor.from_name("cifar-resnet20", device="cpu").random_weights

