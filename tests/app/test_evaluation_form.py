"""The Evaluate… dialog's Qt-free half: dataset specs, the request, the weights it
evaluates (a copy, or a random initialisation), and what it draws of a result."""

from __future__ import annotations

import math

import pytest

from resnet_studio.app.evaluation_form import (
    DatasetChoice,
    confusion_fractions,
    evaluation_request,
    headline,
    loaded_for_evaluation,
    per_class_rows,
    percent_text,
    weights_warning,
)
from resnet_studio.app.model import ModelState
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.errors import DataError
from resnet_studio.core.evaluation import EvaluationResult


def test_dataset_specs_and_data_roots(tmp_path):
    archive = tmp_path / "test.zip"
    archive.write_bytes(b"")
    assert DatasetChoice("zip", str(archive)).spec() == f"zip:{archive}"
    assert DatasetChoice("folder", f" {tmp_path} ").spec() == f"folder:{tmp_path}"
    assert DatasetChoice("cifar10", str(tmp_path)).spec() == "cifar10"
    assert DatasetChoice("cifar100", str(tmp_path)).data_root() == str(tmp_path)
    assert DatasetChoice("cifar10").data_root() is None
    assert DatasetChoice("zip", str(archive)).data_root() is None
    with pytest.raises(DataError, match="Choose the zip file"):
        DatasetChoice("zip", "  ").spec()
    with pytest.raises(DataError, match="does not exist"):
        DatasetChoice("folder", str(tmp_path / "nope")).spec()
    with pytest.raises(DataError, match="Unknown"):
        DatasetChoice("imagenet").spec()


def test_the_request_names_the_state_network_and_the_form(tmp_path):
    state = ModelState(ModelChoice("cifar-resnet20"))
    request = evaluation_request(state, DatasetChoice("cifar100", str(tmp_path)), batch_size=64, limit=0)
    assert (request.model, request.weights, request.dataset) == ("cifar-resnet20", None, "cifar100")
    assert (request.batch_size, request.limit, request.data_root) == (64, None, str(tmp_path))
    assert evaluation_request(state, DatasetChoice("cifar10"), limit=100).limit == 100
    assert weights_warning(state) is not None  # no weights: it warns


def test_loaded_weights_are_copied_and_random_ones_built():
    from resnet_studio.core.models import create_model
    from resnet_studio.core.weights import LoadResult

    weights = LoadResult(model=create_model("cifar-resnet8"), format="studio", source="w.safetensors",
                         matched_keys=1, class_names=["a"] * 10, meta={}, model_name="cifar-resnet8")  # fmt: skip
    copy = loaded_for_evaluation(ModelChoice("cifar-resnet8"), weights)
    assert copy.model is not weights.model and copy.source == weights.source
    assert copy.model.state_dict()["fc.weight"].equal(weights.model.state_dict()["fc.weight"])
    fresh = loaded_for_evaluation(ModelChoice("cifar-resnet8"), None)
    assert fresh.format == "random" and fresh.class_names is None and fresh.model.fc.out_features == 10


def _result(**overrides) -> EvaluationResult:
    values = dict(model="m", weights="w", dataset="d", split="s", class_names=["cat", "dog", "owl"],
                  images=5, skipped=0, top1=60.0, top5=100.0, k=3,
                  per_class={"cat": 100.0, "dog": 50.0, "owl": math.nan},
                  class_images={"cat": 3, "dog": 2, "owl": 0},
                  confusion=[[3, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]], seconds=1.0, images_per_s=5.0,
                  device="cpu", class_match="name")  # fmt: skip
    return EvaluationResult(**{**values, **overrides})


def test_rows_fractions_and_headline():
    result = _result()
    assert per_class_rows(result)[:2] == [("cat", 100.0, 3), ("dog", 50.0, 2)]
    assert confusion_fractions(result) == [[1.0, 0, 0, 0], [0, 0.5, 0, 0.5], [0, 0, 0, 0]]
    assert headline(result) == ("60.00 %", "not published")
    assert headline(_result(published_top1=91.73)) == ("60.00 %", "91.73 % (-31.73 points)")
    assert percent_text(math.nan) == "—" and percent_text(50.0) == "50.00 %"
