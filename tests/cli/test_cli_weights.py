"""`resnet-studio pretrained`, `eval` and `export`."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from resnet_studio.cli import main
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, pretrained, save_weights
from tests.core.test_weights import _to_akamaster


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pretrained_lists_the_catalog_grouped_with_published_numbers(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out, _ = run(capsys, "pretrained")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert code == 0 and len(rows) == len(pretrained.pretrained_names())
    assert rows["resnet18_8xb16_cifar10"][3:5] == ["94.82", "-"] and rows["resnet18_8xb16_cifar10"][-1] == "no"
    assert rows["resnet50.tv2_in1k"][3:5] == ["80.86", "95.43"]


def test_pretrained_json_says_what_is_cached(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    entry = pretrained.get_pretrained("cifar-resnet20.akamaster")
    pretrained.cache_path(entry).parent.mkdir(parents=True)
    pretrained.cache_path(entry).write_bytes(b"x")
    code, out, _ = run(capsys, "pretrained", "akamaster", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["cached"] for r in rows] == [True] + [False] * 5
    assert rows[0]["top1"] == 91.73 and rows[0]["path"] == str(pretrained.cache_path(entry))


@pytest.fixture
def cached_akamaster(tmp_path, monkeypatch):
    """A ResNet-20 in akamaster's format where torch.hub's cache expects his file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("RESNET_STUDIO_WEIGHTS_MIRROR", "http://127.0.0.1:9/")  # never used
    torch.manual_seed(0)
    entry = pretrained.get_pretrained("cifar-resnet20.akamaster")
    path = pretrained.cache_path(entry)
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": _to_akamaster(create_model("cifar-resnet20", shortcut="A")),
                "best_prec1": 91.78}, path)  # fmt: skip
    data = tmp_path / "data"
    for i, name in enumerate(CIFAR10_CLASSES):
        (data / name).mkdir(parents=True)
        for j in range(2):
            Image.new("RGB", (32, 32), (25 * i, 100 * j, 60)).save(data / name / f"{j}.png")
    return f"folder:{data}"


def test_eval_json_with_a_pretrained_name(capsys, cached_akamaster, tmp_path):
    code, out, err = run(capsys, "eval", "--model", "cifar-resnet20.akamaster", "--dataset",
                         cached_akamaster, "--json", "--out", str(tmp_path / "out"), "--device", "cpu")
    report = json.loads(out)
    assert code == 0 and report["images"] == 20 and report["published_top1"] == 91.73
    assert set(report) >= {"top1", "top5", "images", "per_class", "published_top1", "top1_diff"}
    assert report["top1_diff"] == pytest.approx(report["top1"] - 91.73)
    assert set(report["per_class"]) == set(CIFAR10_CLASSES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "confusion.csv", "confusion.png", "eval.json", "per_class.csv"]
    assert "evaluating 20 of 20 images" in err  # the progress bar


def test_eval_text_shows_published_beside_measured(capsys, cached_akamaster):
    code, out, _ = run(capsys, "eval", "--model", "cifar-resnet20", "--weights",
                       "cifar-resnet20.akamaster", "--dataset", cached_akamaster, "--device", "cpu")
    assert code == 0 and "published  91.73 %" in out and "difference" in out
    assert "note: measured top-1 differs" in out  # random-ish weights: far from 91.73


def test_eval_refuses_a_model_without_weights_and_mismatched_classes(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "--model", "cifar-resnet32", "--dataset", "cifar10")  # nothing ships for it
    assert code == 2 and "no weights" in err
    weights = tmp_path / "w.safetensors"
    save_weights(create_model("cifar-resnet8"), weights, {"model": "cifar-resnet8",
                 "class_names": list(CIFAR10_CLASSES)})  # fmt: skip
    for name in ("sofa", "cat"):
        (tmp_path / "d" / name).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(tmp_path / "d" / name / "0.png")
    code, _, err = run(capsys, "eval", "--model", "cifar-resnet8", "--weights", str(weights),
                       "--dataset", f"folder:{tmp_path / 'd'}")
    assert code == 2 and "sofa" in err and err.count("\n") == 1


def test_export_writes_onnx_and_checks_it(capsys, cached_akamaster, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out_file = tmp_path / "r20.onnx"
    code, out, _ = run(capsys, "export", "--model", "cifar-resnet20.akamaster", "--format", "onnx",
                       "--out", str(out_file))
    assert code == 0 and out_file.is_file() and "max |difference|" in out
    diff = float(out.rsplit(" ", 1)[1])
    assert diff < 1e-4


def test_predict_and_inspect_take_a_pretrained_name(capsys, cached_akamaster, tmp_path):
    """`--model cifar-resnet20.akamaster` means that network with those weights, class
    names and preprocessing, as mmpretrain's `inference_model('resnet18_8xb16_cifar10', …)`."""
    from resnet_studio.core.catalog import IMAGENET_MEAN
    from resnet_studio.core.predict import Predictor

    image = tmp_path / "frog.png"
    Image.new("RGB", (40, 30), (40, 160, 60)).save(image)
    code, out, err = run(capsys, "predict", str(image), "--model", "cifar-resnet20.akamaster",
                         "--json", "--device", "cpu")  # fmt: skip
    [row] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "random" not in err
    assert row["pred_class"] == row["top"][0]["class"] in CIFAR10_CLASSES
    entry = pretrained.get_pretrained("cifar-resnet20.akamaster")
    by_file = Predictor.from_name("cifar-resnet20", str(pretrained.cache_path(entry)), device="cpu")
    assert by_file.preprocessing.mean == IMAGENET_MEAN  # akamaster normalises with ImageNet's
    [scores] = by_file.predict([Image.open(image).convert("RGB")])
    assert row["pred_score"] == pytest.approx(scores[0].probability, abs=1e-6)
    assert row["pred_label"] == scores[0].index

    code, out, err = run(capsys, "inspect", str(image), "--model", "cifar-resnet20.akamaster",
                         "--out", str(tmp_path / "shots"), "--json", "--device", "cpu")  # fmt: skip
    report = json.loads(out.splitlines()[0])
    assert code == 0 and "random" not in err and report["top"][0]["class"] == row["pred_class"]


def test_a_misspelt_pretrained_name_suggests_close_ones(capsys):
    code, _, err = run(capsys, "predict", "x.png", "--model", "resnet18_8xb16_cifar1")
    assert code == 2 and "resnet18_8xb16_cifar10" in err and "Traceback" not in err
