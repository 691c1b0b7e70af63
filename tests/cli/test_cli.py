"""The command line: models, predict, runs, and its error manners."""

import json

import pytest
import torch
from PIL import Image

from resnet_studio.cli import main
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, save_weights


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_the_zoo_with_exact_params(capsys):
    code, out, _ = run(capsys, "models", "cifar-resnet")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("cifar-resnet56 "))
    assert "853,018" in line and "cifar" in line


def test_models_json_has_every_field(capsys):
    code, out, _ = run(capsys, "models", "resnet50-v1d", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows[0]["name"] == "resnet50-v1d"
    assert rows[0]["params"] == 25_576_264 and rows[0]["stages"][1]["name"] == "layer1"


@pytest.fixture
def cifar_weights(tmp_path):
    torch.manual_seed(0)
    model = create_model("cifar-resnet20")
    path = tmp_path / "cifar.safetensors"
    save_weights(model, path, {"model": "cifar-resnet20", "class_names": list(CIFAR10_CLASSES)})
    return path


@pytest.fixture
def images(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 128, 255)]):
        path = tmp_path / f"image{i}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        paths.append(str(path))
    return paths


def test_predict_prints_topk_with_class_names(capsys, cifar_weights, images):
    code, out, err = run(capsys, "predict", *images, "--model", "cifar-resnet20",
                         "--weights", str(cifar_weights), "--topk", "3", "--json", "--device", "cpu")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "random" not in err
    assert [row["image"] for row in rows] == images
    for row in rows:
        assert len(row["top"]) == 3 and all(t["class"] in CIFAR10_CLASSES for t in row["top"])
        probabilities = [t["probability"] for t in row["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_predict_with_random_weights_warns(capsys, images):
    code, out, err = run(capsys, "predict", images[0], "--model", "cifar-resnet20", "--device", "cpu")
    assert code == 0 and "random weights" in err and "class " in out


def test_predict_reports_a_bad_image_and_exits_2(capsys, tmp_path, images):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    code, out, err = run(capsys, "predict", str(bad), images[0], "--model", "cifar-resnet20")
    assert code == 2 and "notes.jpg" in err
    assert images[0] in out  # the good image is still classified


def test_user_errors_print_one_line_and_exit_2(capsys):
    code, _, err = run(capsys, "predict", "x.png", "--model", "resnet19")
    assert code == 2 and err.count("\n") == 1 and "depths" in err


def test_weights_for_another_network_fail_cleanly(capsys, cifar_weights, images):
    code, _, err = run(capsys, "predict", images[0], "--model", "cifar-resnet32",
                       "--weights", str(cifar_weights))
    assert code == 2 and "missing" in err.lower()


def test_runs_lists_a_finished_run(capsys, tmp_path):
    code, _, _ = run(capsys, "train", "--model", "cifar-resnet8", "--image-size", "8",
                     "--batch-size", "32", "--val-size", "128", "--iters", "4", "--log-every", "2",
                     "--eval-every", "4", "--runs-dir", str(tmp_path))
    assert code == 0
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path))
    assert code == 0 and "cifar-resnet8" in out and "finished" in out and "4/4" in out
    code, out, _ = run(capsys, "runs", "--runs-dir", str(tmp_path), "--json")
    assert json.loads(out.splitlines()[0])["status"] == "finished"


def test_no_subcommand_help_is_instant_and_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("models", "predict", "train", "runs"):
        assert command in out


def test_python_m_is_safe_to_reimport_in_a_spawned_process(monkeypatch):
    """multiprocessing's spawn re-imports `python -m resnet_studio`'s main module as
    __mp_main__ in the training process: that must not run the CLI (or open a window)."""
    import runpy

    from resnet_studio import cli

    calls = []
    monkeypatch.setattr(cli, "main", lambda *a, **k: calls.append(a) or 0)
    runpy.run_module("resnet_studio.__main__", run_name="__mp_main__")
    assert calls == []
    with pytest.raises(SystemExit):
        runpy.run_module("resnet_studio.__main__", run_name="__main__")
    assert len(calls) == 1
