"""Export a model with its weights to ONNX, with a dynamic batch axis.

torch 2.9+ exports through `torch.export` (the "dynamo" exporter, which needs
onnxscript); the TorchScript exporter is deprecated, so it is not used. onnx,
onnxruntime and onnxscript are the optional extra `resnet-studio[onnx]`. The file
carries what a consumer needs beside the graph (zoo name, class names,
preprocessing) as JSON in the model's metadata under `resnet_studio`, as our
safetensors files do, and it is written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnet_studio.core.atomic import replacing
from resnet_studio.core.errors import StudioError

FORMATS = ("onnx",)
META_KEY = "resnet_studio"  # the metadata_props entry holding our JSON
INPUT_NAME, OUTPUT_NAME = "input", "logits"
EXTRA = "pip install 'resnet-studio[onnx]' (onnx, onnxruntime, onnxscript)"


class ExportError(StudioError):
    """An export that cannot run (a missing extra, an unknown format)."""


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    input_size: int,
    meta: Mapping[str, Any] | None = None,
    opset: int | None = None,
) -> Path:
    """Write `model` (in eval mode, on the CPU) as an ONNX file taking float32
    [batch, 3, input_size, input_size] normalised images and giving logits."""
    _require("onnx", "onnxscript")
    import onnx

    path = Path(path)
    model = model.to("cpu").eval()
    example = (torch.zeros(2, 3, input_size, input_size),)
    batch = torch.export.Dim("batch", min=1)
    with replacing(path, suffix=".onnx") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter, not ours
        torch.onnx.export(
            model, example, str(tmp), dynamo=True, external_data=False, verbose=False,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch},), opset_version=opset,
        )  # fmt: skip
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(_plain(meta or {}))
        onnx.save(proto, str(tmp))
    return path


def onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Our JSON from an exported file ({} when it has none)."""
    _require("onnx")
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(props[META_KEY]) if META_KEY in props else {}


def verify_onnx(
    path: str | os.PathLike, model: nn.Module, *, input_size: int,
    batches: Sequence[int] = (1, 3), seed: int = 0,
) -> float:
    """The largest |onnxruntime - torch| over random inputs of each batch size: the
    proof that the file computes what the model does, for any batch."""
    _require("onnxruntime")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    model = model.to("cpu").eval()
    worst = 0.0
    for n in batches:
        x = torch.randn(n, 3, input_size, input_size, generator=generator)
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        with torch.inference_mode():
            want = model(x).numpy()
        worst = max(worst, float(abs(got - want).max()))
    return worst


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"ONNX export needs {', '.join(missing)}: {EXTRA}.")


def _plain(meta: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in meta.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        out[str(key)] = value
    return json.loads(json.dumps(out, default=str))
