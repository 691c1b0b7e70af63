"""`resnet-studio inspect`: PNGs, JSON, and bad images that do not stop the good ones."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio import cli
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, save_weights


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("cat", "dog"):
        path = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def cifar_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "r20.safetensors"
    save_weights(create_model("cifar-resnet20"), path,
                 {"model": "cifar-resnet20", "class_names": list(CIFAR10_CLASSES)})
    return str(path)


def test_inspect_two_images_writes_pngs_and_json(capsys, tmp_path, images, cifar_weights):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "inspect", *images, "--model", "cifar-resnet20", "--weights", cifar_weights,
                         "--layer", "layer2.0", "--gradcam", "--fig7", "--compare", "cifar-plain20", "--compare-weights", "random",
                         "--topk", "3", "--json", "--out", str(out_dir), "--device", "cpu")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in rows[:2]] == images
    for row, name in zip(rows[:2], ("cat", "dog"), strict=True):
        assert len(row["top"]) == 3 and all(t["class"] in CIFAR10_CLASSES for t in row["top"])
        assert row["files"] == {"activations": str(out_dir / f"{name}-layer2.0-activations.png"),
                                "gradcam": str(out_dir / f"{name}-gradcam.png")}
        assert row["shape"] == [32, 16, 16] and row["residual"]["ratio"] > 0
        assert row["gradcam"]["layer"] == "layer3"
    fig7 = rows[2]["figure7"]
    assert fig7["file"] == str(out_dir / "figure7.png") and fig7["images"] == 2
    assert set(fig7["models"]) == {"cifar-resnet20", "cifar-plain20"}
    assert len(fig7["models"]["cifar-plain20"]["std"]) == 19
    for png in out_dir.iterdir():
        with Image.open(png) as img:
            assert img.format == "PNG" and img.mode == "RGB"
    assert "random weights" in err and "cifar-plain20" in err  # only the compared net is random
    assert "cifar-resnet20 has random" not in err


def test_a_bad_image_exits_2_with_a_message_and_the_good_one_is_processed(capsys, tmp_path, images):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    code, out, err = run(capsys, "inspect", images[0], str(bad), "--model", "cifar-resnet20",
                         "--out", str(tmp_path), "--device", "cpu")
    assert code == 2
    assert "broken.jpg" in err and "not an image" in err and "Traceback" not in err
    assert out.startswith(images[0]) and (tmp_path / "cat-layer1-activations.png").is_file()


def test_unknown_layer_is_a_clear_error_with_suggestions(capsys, images, tmp_path):
    code, _, err = run(capsys, "inspect", images[0], "--model", "cifar-resnet20", "--layer", "layer2.0.bn",
                       "--out", str(tmp_path), "--device", "cpu")
    assert code == 2 and "layer2.0.bn1" in err and "Traceback" not in err
