"""Weight files: our safetensors, torchvision, timm, mmpretrain, the CIFAR reproduction,
and every way a file can be damaged, foreign or hostile. All files live in tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import struct
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from resnet_studio.core.errors import WeightsError
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import (
    CIFAR10_CLASSES,
    CIFAR100_CLASSES,
    cache_path,
    convert_state_dict,
    detect_format,
    guess_model_name,
    imagenet_classes,
    load_weights,
    read_state_dict,
    save_weights,
)
from resnet_studio.core.weights import torchvision_hub as hub

# ------------------------------------------------------------------------------ helpers


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine terms, so a mis-mapped key shows in outputs."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), key


def _assert_same_logits(a: nn.Module, b: nn.Module, size: int) -> None:
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x), atol=1e-5, rtol=1e-5)


def _to_mmpretrain(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our state_dict in mmpretrain's layout: the inverse of the loader's mapping."""
    stem = {"conv1.0.": "stem.0.conv.", "conv1.1.": "stem.0.bn.", "conv1.3.": "stem.1.conv.",
            "conv1.4.": "stem.1.bn.", "conv1.6.": "stem.2.conv."}  # fmt: skip
    deep = any(k.startswith("conv1.0.") for k in model.state_dict())
    stride1 = {name for name, m in model.named_modules()
               if name.endswith("downsample") and isinstance(m[0], nn.Identity)}  # fmt: skip
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("fc."):
            out["head." + key] = value
            continue
        if deep and key.startswith("bn1."):
            key = "stem.2.bn." + key.removeprefix("bn1.")
        for ours, theirs in stem.items():
            if key.startswith(ours):
                key = theirs + key.removeprefix(ours)
        m = re.match(r"^(.+\.downsample)\.(\d)\.(.+)$", key)
        if m and m[1] in stride1:  # mmpretrain: [conv, bn] at 0, 1 where stride is 1
            key = f"{m[1]}.{int(m[2]) - 1}.{m[3]}"
        out["backbone." + key] = value
    out["data_preprocessor.mean"] = torch.tensor([123.675, 116.28, 103.53])
    return out


def _to_akamaster(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our CIFAR net as akamaster's DataParallel checkpoint keys (no BN counters)."""
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        key = key.replace(".downsample.", ".shortcut.")
        key = "linear." + key.removeprefix("fc.") if key.startswith("fc.") else key
        out["module." + key] = value
    return out


# ------------------------------------------------------------------------ our own files


def test_safetensors_round_trip_keeps_tensors_outputs_and_metadata(tmp_path):
    model = _randomise(create_model("cifar-resnet20", shortcut="B"))
    path = tmp_path / "model.safetensors"
    save_weights(model, path, {"model": "cifar-resnet20", "shortcut": "B",
                               "class_names": list(CIFAR10_CLASSES), "epoch": 3})  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp left

    result = load_weights(None, path)  # the name comes from the file
    assert result.format == "resnet-studio" and result.model_name == "cifar-resnet20"
    assert result.class_names == list(CIFAR10_CLASSES) and not result.class_names_guessed
    assert result.meta["epoch"] == 3 and result.meta["format_version"] == 1
    assert result.meta["options"] == {"shortcut": "B", "num_classes": 10}
    assert result.preprocessing.input_size == 32 and result.preprocessing.mean[0] == 0.4914
    assert result.matched_keys == len(model.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(result.model.state_dict()[key], value), key
    _assert_same_logits(model, result.model, 32)


def test_save_overwrites_atomically_and_checks_class_names(tmp_path):
    path = tmp_path / "w.safetensors"
    model = create_model("cifar-resnet20")
    save_weights(model, path, {"model": "cifar-resnet20"})
    save_weights(model, path, {"model": "cifar-resnet20", "note": "second"})
    assert read_state_dict(path).meta["note"] == "second"
    with pytest.raises(WeightsError, match="3 class names were given for a 10-class head"):
        save_weights(model, tmp_path / "bad.safetensors", {"class_names": ["a", "b", "c"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


# ----------------------------------------------------------------------- foreign formats


def test_torchvision_pth_gives_torchvision_logits(tmp_path):
    reference = _randomise(torchvision.models.resnet18())
    path = tmp_path / "tv.pth"
    torch.save(reference.state_dict(), path)
    result = load_weights("resnet18", path)
    assert result.format == "torchvision"
    assert result.class_names == list(imagenet_classes()) and result.class_names_guessed
    _assert_same_logits(reference, result.model, 64)


@pytest.mark.parametrize("depth", [34, 50, 152])
def test_torchvision_keys_fit_without_building_the_net(depth):
    # Logits for every depth are compared in test_models; here only the key mapping.
    with torch.device("meta"):
        reference = getattr(torchvision.models, f"resnet{depth}")()
    report = convert_state_dict(reference.state_dict(), "torchvision", f"resnet{depth}").report
    assert report.ok and len(report.matched) == len(reference.state_dict())
    assert guess_model_name(reference.state_dict()) == f"resnet{depth}"


@pytest.mark.parametrize(
    "name",
    ["resnet50", "resnet50-v1c", "resnet101-v1d", "resnet18-cifar", "plain18-cifar", "plain34",
     "cifar-resnet110"],
)
def test_guess_model_name_reads_the_structure_of_every_family(name):
    with torch.device("meta"):
        state = create_model(name).state_dict()
    assert guess_model_name(state) == name


def test_guess_model_name_refuses_a_depth_outside_table_1():
    with torch.device("meta"):
        state = create_model("resnet18").state_dict()
    state = {k: v for k, v in state.items() if not k.startswith("layer4.1.")}
    assert guess_model_name(state) is None


@pytest.mark.parametrize("name", ["resnet18-v1d", "resnet18-v1c"])
def test_mmpretrain_checkpoint_loads_and_matches(tmp_path, name):
    model = _randomise(create_model(name, num_classes=3))
    path = tmp_path / "epoch_100.pth"
    meta = {"dataset_meta": {"classes": ("cat", "dog", "eel")}, "epoch": 100}
    torch.save({"meta": meta, "state_dict": _to_mmpretrain(model),
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, path)  # fmt: skip
    result = load_weights(name, path)
    assert result.format == "mmpretrain" and result.class_names == ["cat", "dog", "eel"]
    assert any("data_preprocessor.mean" in note for note in result.notes)
    assert result.meta["meta"]["epoch"] == 100
    _assert_same_logits(model, result.model, 32)


@pytest.mark.parametrize("name", ["resnet50-v1d", "resnet50-v1c", "resnet50"])
def test_mmpretrain_bottleneck_keys_fit_including_stride1_downsample(name):
    with torch.device("meta"):
        model = create_model(name)
    converted = convert_state_dict(_to_mmpretrain(model), "mmpretrain", model)
    assert converted.report.ok, converted.report.describe()
    if name == "resnet50-v1d":  # stride 1 in mmpretrain: downsample.0/1; ours always .1/.2
        assert "layer1.0.downsample.1.weight" in converted.state_dict


def test_mmcls_classes_key_and_guessed_name(tmp_path):
    model = _randomise(create_model("resnet18-v1d", num_classes=2))
    path = tmp_path / "old_mmcls.pth"
    torch.save({"meta": {"CLASSES": ["no", "yes"]}, "state_dict": _to_mmpretrain(model)}, path)
    result = load_weights(None, path)
    assert result.model_name == "resnet18-v1d" and result.class_names == ["no", "yes"]


def test_timm_style_v1d_checkpoint_loads(tmp_path):
    model = _randomise(create_model("resnet18-v1d", num_classes=5))
    path = tmp_path / "model_best.pth.tar"
    weights = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"epoch": 7, "arch": "resnet18d", "state_dict_ema": weights}, path)
    result = load_weights("resnet18-v1d", path)
    assert result.format == "timm" and result.class_names is None
    assert result.meta == {"epoch": 7, "arch": "resnet18d"}
    _assert_same_logits(model, result.model, 32)


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_cifar_reproduction_legacy_checkpoint_loads(tmp_path, shortcut):
    model = _randomise(create_model("cifar-resnet20", shortcut=shortcut))
    path = tmp_path / "resnet20-12fca82f.th"
    torch.save({"state_dict": _to_akamaster(model), "best_prec1": 91.7}, path,
               _use_new_zipfile_serialization=False)  # fmt: skip
    result = load_weights("cifar-resnet20", path)
    assert result.format == "cifar-reproduction" and result.meta == {"best_prec1": 91.7}
    assert result.class_names == list(CIFAR10_CLASSES) and result.class_names_guessed
    assert any("num_batches_tracked" in note for note in result.notes)
    has_projection = result.model.layer2[0].downsample.__class__ is nn.Sequential
    assert has_projection == (shortcut == "B")
    _assert_same_logits(model, result.model, 16)


def test_format_detection_reads_keys_not_suffixes(tmp_path):
    sd = create_model("cifar-resnet20").state_dict()
    path = tmp_path / "weights.safetensors"  # a lie: it is a torch pickle
    torch.save(sd, path)
    assert read_state_dict(path).format == "torchvision"
    assert detect_format({"linear.weight": torch.zeros(1)}) == "cifar-reproduction"
    assert detect_format({"backbone.conv1.weight": torch.zeros(1)}) == "mmpretrain"
    assert guess_model_name(sd) == "cifar-resnet20"
    from safetensors.torch import save_file

    save_file(create_model("resnet18-v1d").state_dict(), tmp_path / "hub.bin")  # no metadata
    assert read_state_dict(tmp_path / "hub.bin").format == "timm"
    with pytest.raises(WeightsError, match="not a ResNet"):
        detect_format({"encoder.weight": torch.zeros(1)})


# ------------------------------------------------------------------------------ safety


class _CreatesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("legacy", [False, True])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}, "x": _CreatesMarker(marker)},
               path, _use_new_zipfile_serialization=not legacy)  # fmt: skip
    assert not marker.exists()
    with pytest.raises(WeightsError, match="Python objects beyond weights.*not loaded for safety"):
        load_weights("cifar-resnet20", path)
    assert not marker.exists()


# --------------------------------------------------------------- wrong or damaged files


def _file_for(tmp_path: Path, name: str, **kwargs) -> Path:
    path = tmp_path / f"{name}.pth"
    torch.save(create_model(name, **kwargs).state_dict(), path)
    return path


@pytest.mark.parametrize(
    ("file_model", "kwargs", "target", "kinds"),
    [
        ("resnet34", {}, "resnet18", ["unexpected"]),
        ("cifar-resnet20", {}, "cifar-resnet32", ["missing"]),
        ("resnet18", {"num_classes": 10}, "resnet18", ["mis-shaped"]),
        ("resnet18-v1d", {}, "resnet18", ["missing", "unexpected", "mis-shaped"]),
    ],
)
def test_weights_of_another_network_fail_and_leave_the_model_untouched(
    tmp_path, file_model, kwargs, target, kinds
):
    path = _file_for(tmp_path, file_model, **kwargs)
    model = _randomise(create_model(target))
    before = _snapshot(model)
    with pytest.raises(WeightsError) as info:
        load_weights(model, path)
    message = str(info.value)
    for kind in kinds:
        assert re.search(rf"\d+ {kind} \(", message), message
    if file_model != target:
        assert f"look like weights for {file_model}" in message
    else:
        assert "head has 10 classes and the model's 1000" in message
    assert "not changed" in message
    _assert_unchanged(model, before)


def test_non_strict_loads_the_backbone_under_a_new_head(tmp_path):
    source = _randomise(create_model("resnet18", num_classes=10))
    path = tmp_path / "ten.pth"
    torch.save(source.state_dict(), path)
    model = create_model("resnet18")
    head = model.fc.weight.clone()
    result = load_weights(model, path, strict=False)
    assert [m[0] for m in result.report.mismatched] == ["fc.weight", "fc.bias"]
    assert torch.equal(model.fc.weight, head)
    assert torch.equal(model.layer4[1].bn2.running_mean, source.layer4[1].bn2.running_mean)


def _damaged_files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.safetensors"
    save_weights(create_model("cifar-resnet20"), good, {"model": "cifar-resnet20"})
    data = good.read_bytes()
    zipped, legacy = io.BytesIO(), io.BytesIO()
    torch.save(create_model("cifar-resnet20").state_dict(), zipped)
    torch.save(create_model("cifar-resnet20").state_dict(), legacy,
               _use_new_zipfile_serialization=False)  # fmt: skip
    contents = {
        "empty": b"",
        "truncated-safetensors": data[: len(data) // 2],
        "truncated-header": data[:40],
        "random": random.Random(0).randbytes(4096),
        "oversized-header": struct.pack("<Q", 2**60) + b'{"a": 1}' + bytes(64),
        "truncated-zip": zipped.getvalue()[: len(zipped.getvalue()) // 2],
        "truncated-legacy": legacy.getvalue()[: len(legacy.getvalue()) // 2],
        "text": b"just some text, not weights\n",
        "a-list": _saved([torch.zeros(3)]),
    }
    paths = {}
    for name, blob in contents.items():
        paths[name] = tmp_path / f"{name}.safetensors"
        paths[name].write_bytes(blob)
    paths["missing"] = tmp_path / "nowhere.pth"
    paths["directory"] = tmp_path
    return paths


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_damaged_files_fail_cleanly_and_leave_the_model_untouched(tmp_path):
    model = _randomise(create_model("cifar-resnet20"))
    before = _snapshot(model)
    for name, path in _damaged_files(tmp_path).items():
        with pytest.raises(WeightsError) as info:
            load_weights(model, path)
        assert str(path) in str(info.value), name
        with pytest.raises(WeightsError):
            read_state_dict(path)
    _assert_unchanged(model, before)


# ---------------------------------------------------------------- torchvision pretrained


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _offline(monkeypatch, calls: list | None = None):
    def refuse(*args, **kwargs):
        if calls is not None:
            calls.append(args)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_torchvision_download_offline_names_url_and_cache_path(torch_home, monkeypatch):
    _offline(monkeypatch)
    weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    with pytest.raises(WeightsError) as info:
        load_weights("resnet50", "torchvision:ResNet50_Weights.IMAGENET1K_V2")
    message = str(info.value)
    assert weights.url in message and str(cache_path(weights)) in message
    assert str(cache_path(weights)).startswith(str(torch_home))
    assert list((torch_home / "hub" / "checkpoints").iterdir()) == []  # no partial file


def test_torchvision_weights_in_the_cache_load_without_network(torch_home, monkeypatch):
    calls: list = []
    _offline(monkeypatch, calls)
    reference = _randomise(torchvision.models.resnet18(), 3)
    path = cache_path(torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
    assert path.name == "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)

    result = load_weights("resnet18", "torchvision")  # the DEFAULT weights
    assert result.source == "torchvision:ResNet18_Weights.IMAGENET1K_V1"
    assert result.format == "torchvision" and not result.class_names_guessed
    assert result.class_names[:2] == ["tench", "goldfish"] and len(result.class_names) == 1000
    assert result.preprocessing.input_size == 224
    _assert_same_logits(reference, result.model, 64)
    model = create_model("resnet18")
    assert load_weights(model, "torchvision").model is model  # name read off the model
    assert calls == []


@pytest.mark.parametrize(
    ("name", "source", "match"),
    [
        ("resnet18-v1d", "torchvision", "resnet18, resnet34, resnet50, resnet101, resnet152"),
        ("cifar-resnet20", "torchvision", "no pretrained torchvision weights"),
        ("resnet50", "torchvision:ResNet50_Weights.NOPE", "IMAGENET1K_V1, IMAGENET1K_V2"),
        ("resnet18", "torchvision:ResNet50_Weights.DEFAULT", "resnet50 weights, not resnet18"),
        ("resnet18", "torchvision:ViT_B_16_Weights.DEFAULT", "ResNet"),
    ],
)
def test_torchvision_sources_that_do_not_exist(torch_home, monkeypatch, name, source, match):
    _offline(monkeypatch)
    with pytest.raises(WeightsError, match=re.escape(match)):
        load_weights(name, source)


def test_download_reports_progress_and_checks_the_hash(tmp_path, monkeypatch):
    payload = os.urandom(3 * hub.CHUNK_BYTES // 2)
    digest = hashlib.sha256(payload).hexdigest()

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Response(payload))
    seen: list[tuple[int, int]] = []
    good = tmp_path / f"resnet18-{digest[:8]}.pth"
    hub.download("https://example.invalid/x.pth", good, lambda d, t: seen.append((d, t)))
    assert good.read_bytes() == payload
    assert seen == [(hub.CHUNK_BYTES, len(payload)), (len(payload), len(payload))]

    bad = tmp_path / "resnet18-00000000.pth"
    with pytest.raises(WeightsError, match="damaged"):
        hub.download("https://example.invalid/x.pth", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]


# ------------------------------------------------------------------------ report & names


def test_read_and_convert_report_before_touching_a_model(tmp_path):
    path = tmp_path / "mm.pth"
    torch.save({"state_dict": _to_mmpretrain(create_model("resnet18-v1d"))}, path)
    state_dict, fmt, class_names, meta = read_state_dict(path)
    assert fmt == "mmpretrain" and class_names is None
    assert convert_state_dict(state_dict, fmt, "resnet18-v1d").report.ok
    report = convert_state_dict(state_dict, fmt, "resnet18").report
    assert not report.ok and "conv1.weight" in report.missing and report.mismatched


def test_class_name_constants():
    assert len(CIFAR10_CLASSES) == 10 and CIFAR10_CLASSES[0] == "airplane"
    assert len(set(CIFAR100_CLASSES)) == 100 and list(CIFAR100_CLASSES) == sorted(CIFAR100_CLASSES)
    assert imagenet_classes()[0] == "tench"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loads_onto_the_models_device(tmp_path):
    source = _randomise(create_model("cifar-resnet20"))
    path = save_weights(source, tmp_path / "w.safetensors", {"model": "cifar-resnet20"})
    model = create_model("cifar-resnet20").cuda()
    load_weights(model, path)
    assert model.fc.weight.is_cuda
    assert torch.equal(model.fc.weight.cpu(), source.fc.weight)
