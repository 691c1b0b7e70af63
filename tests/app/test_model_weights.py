"""What `app.model` adds for the window's pretrained chooser and ONNX export: the
weights text of a catalog checkpoint, the option the checkpoint was trained with,
and the export job (with its check) or what to install for it."""

from __future__ import annotations

import dataclasses

import pytest

from resnet_studio.app.model import ModelState, export_onnx_job, onnx_missing, weights_text
from resnet_studio.core.catalog import ModelChoice
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import LoadResult, get_pretrained


def _loaded(entry_name: str) -> LoadResult:
    entry = get_pretrained(entry_name)
    model = create_model(entry.model, **entry.choice.options())
    return LoadResult(model=model, format="mmpretrain", source=entry.name, matched_keys=122,
                      class_names=entry.class_names(), meta={}, model_name=entry.model,
                      pretrained=entry)  # fmt: skip


def test_a_catalog_checkpoint_says_what_it_is_and_how_good():
    text = weights_text(_loaded("resnet18_8xb16_cifar10"))
    assert text.startswith("Loaded resnet18_8xb16_cifar10: resnet18-cifar trained on CIFAR-10")
    assert "published top-1 94.82 %" in text and "mmpretrain" in text.lower()
    assert "10 classes: airplane" in text


def test_the_choice_takes_the_checkpoint_shortcut():
    result = _loaded("cifar-resnet20.akamaster")
    entry = dataclasses.replace(result.pretrained, shortcut="B")  # a B-trained twin
    state = ModelState(ModelChoice("resnet50"))
    state.set_weights(dataclasses.replace(result, pretrained=entry))
    assert state.choice == ModelChoice("cifar-resnet20", 10, "B")


def test_export_job_writes_checked_onnx_with_metadata(tmp_path):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from resnet_studio.core.export import onnx_metadata

    assert onnx_missing() is None
    result = _loaded("cifar-resnet20.akamaster")
    exported = export_onnx_job(ModelChoice("cifar-resnet20"), result, str(tmp_path / "c20.onnx"))
    assert exported.input_size == 32 and exported.max_difference < 1e-4
    meta = onnx_metadata(exported.path)
    assert meta["model"] == "cifar-resnet20" and meta["weights"] == "cifar-resnet20.akamaster"
    assert meta["class_names"][0] == "airplane" and meta["shortcut"] == "A"
    assert result.model.training  # the window's model was not switched to eval: a copy was exported


def test_without_the_extra_it_names_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    blocked = {"onnx", "onnxscript"}  # absent whatever this environment has installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in blocked else real(name, *a))
    assert onnx_missing() == ("ONNX export needs onnx, onnxscript: pip install 'resnet-studio[onnx]' "
                              "(onnx, onnxruntime, onnxscript).")  # fmt: skip
