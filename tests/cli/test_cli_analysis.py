"""`resnet-studio analyze lesion|landscape`: files written, table printed, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from resnet_studio.cli import main
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, save_weights

SHARED = Path("/work/shared/data/cifar10-jpeg")
pytestmark = pytest.mark.skipif(
    not (SHARED / "test.zip").is_file(), reason="the shared CIFAR-10 zips"
)


def _weights(tmp_path: Path, name: str) -> str:
    torch.manual_seed(0)
    return str(save_weights(create_model(name), tmp_path / f"{name}.safetensors",
                            {"model": name, "class_names": CIFAR10_CLASSES}))  # fmt: skip


def test_lesion_writes_its_files_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            "lesion",
            "--model",
            "cifar-plain20",
            "--weights",
            _weights(tmp_path, "cifar-plain20"),
            "--data",
            f"zip:{SHARED / 'test.zip'}",
            "--images",
            "20",
            "--draws",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "lesion-k.png",
        "lesion-single.png",
        "lesion.csv",
        "lesion.json",
        "paths.png",
    ]
    printed = capsys.readouterr().out
    assert "cannot be removed" in printed and "layer2.0, layer3.0" in printed
    (record,) = json.loads((out / "lesion.json").read_text())
    assert record["images"] == 20 and len(record["single"]) == 9
    rows = (out / "lesion.csv").read_text().splitlines()
    assert len(rows) == 1 + 1 + 9 + 7  # header, intact, 9 blocks, k = 1..7 for one draw


def test_landscape_json_and_csv(tmp_path, capsys):
    out = tmp_path / "land"
    code = main(
        [
            "analyze",
            "landscape",
            "--model",
            "cifar-resnet20",
            "--weights",
            "random",
            "--dims",
            "2",
            "--points",
            "3",
            "--images",
            "10",
            "--data",
            f"zip:{SHARED / 'train.zip'}",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    (result,) = printed["results"]
    assert result["dims"] == 2 and result["alphas"] == [-1.0, 0.0, 1.0] and result["images"] == 10
    assert (out / "landscape-2d-cifar-resnet20.png").is_file()
    assert len((out / "landscape.csv").read_text().splitlines()) == 1 + 9


def test_bad_points_fail_with_one_line(tmp_path, capsys):
    code = main(
        [
            "analyze",
            "landscape",
            "--model",
            "cifar-resnet20",
            "--weights",
            "random",
            "--points",
            "4",
            "--data",
            f"zip:{SHARED / 'train.zip'}",
        ]
    )
    assert code == 2
    assert "odd" in capsys.readouterr().err
