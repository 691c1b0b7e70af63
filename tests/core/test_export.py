"""ONNX export: onnxruntime's logits equal torch's for batch 1 and 3 (dynamic batch)."""

from __future__ import annotations

import importlib.util

import pytest

from resnet_studio.core import export
from resnet_studio.core.models import create_model
from tests.core.test_weights import _randomise


def test_export_matches_torch_for_any_batch(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = _randomise(create_model("cifar-resnet20"), 4)
    path = export.export_onnx(model, tmp_path / "r20.onnx", input_size=32,
                              meta={"model": "cifar-resnet20", "class_names": ["a"] * 10})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r20.onnx"]  # nothing else left
    assert export.verify_onnx(path, model, input_size=32, batches=(1, 3)) < 1e-4
    assert export.onnx_metadata(path)["model"] == "cifar-resnet20"
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch" and session.get_inputs()[0].shape[1:] == [3, 32, 32]


def test_a_missing_extra_says_how_to_install_it(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(export.ExportError, match=r"resnet-studio\[onnx\]"):
        export.export_onnx(create_model("cifar-resnet20"), tmp_path / "x.onnx", input_size=32)
    assert list(tmp_path.iterdir()) == []
