"""The inspection jobs on tiny CPU nets, and the CLI running the very same jobs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio import cli
from resnet_studio.app.inspection import jobs
from resnet_studio.app.inspection.control import UNATTENDED
from resnet_studio.core.catalog import (
    CIFAR_PREPROCESSING,
    SYNTHETIC_TEST_SEED_OFFSET,
    ModelChoice,
    twin,
)
from resnet_studio.core.errors import StudioError
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import load_weights, save_weights

NAMES = [f"thing{i}" for i in range(10)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def weight_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "r20.safetensors"
    save_weights(create_model("cifar-resnet20"), path, {"model": "cifar-resnet20", "class_names": NAMES})
    return path


@pytest.fixture(scope="module")
def model(weight_file):
    return jobs.build_bundle(3, ModelChoice("cifar-resnet20").resolved(), load_weights("cifar-resnet20", str(weight_file)))


def noise(seed: int = 0, size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


class Cancelling:
    """A job control that stops the job at its `n`-th check."""

    def __init__(self, n: int) -> None:
        self.n, self.progressed = n, []

    def check(self) -> None:
        self.n -= 1
        if self.n <= 0:
            raise KeyboardInterrupt("cancelled")

    def progress(self, *values) -> None:
        self.progressed.append(values)
        self.check()


def test_a_bundle_is_a_predictor_with_the_layers_the_views_offer(model, weight_file):
    loaded = load_weights("cifar-resnet20", str(weight_file))
    assert model.generation == 3 and model.name == "cifar-resnet20"
    assert model.preprocessing == CIFAR_PREPROCESSING and model.predictor.class_names == NAMES
    assert model.weights_text == "resnet-studio weights from r20.safetensors" and not model.random_weights
    assert model.model is not loaded.model  # our own copy: the Model panel's stays untouched
    assert not any(p.requires_grad for p in model.model.parameters())
    assert model.blocks[:2] == ["layer1.0", "layer1.1"] and len(model.blocks) == 9 and not model.plain
    assert model.gradcam_layers[0] == "stem" and model.last_stage == "layer3" and model.num_classes == 10
    assert model.tree  # the layer tree the Activations view lists
    plain = jobs.build_bundle(1, ModelChoice("cifar-plain32").resolved(), None)  # nothing ships for it
    assert plain.plain and plain.random_weights and plain.weights_text == "random weights"


def test_the_analysis_top_k_is_the_predictors(model):
    image = noise()
    analysis = jobs.analyse(model, image, "layer2.0", 16, "mean", "gray", False, UNATTENDED)
    expected = model.predictor.predict([image], topk=5)[0]
    assert [s.index for s in analysis.top] == [s.index for s in expected]
    assert [s.probability for s in analysis.top] == pytest.approx([s.probability for s in expected], rel=1e-5)
    assert all(s.name in NAMES for s in analysis.top)
    assert analysis.maps.layer == "layer2.0" and len(analysis.maps.channels) == 16 and analysis.columns == 4
    assert analysis.display.shape == (32, 32, 3) and analysis.grid.dtype == np.uint8
    comparison = jobs.compare({"a": model}, image)
    assert [s.index for s in comparison.models[0].top] == [s.index for s in expected]
    assert comparison.models[0].weights_text == model.weights_text


def test_residual_and_gradcam_reuse_the_analysed_input(model):
    analysis = jobs.analyse(model, noise(), "layer1", job=UNATTENDED)
    view = jobs.residual(model, analysis.x, "layer2.1")
    assert view.block == "layer2.1" and view.ratio > 0
    cam = jobs.gradcam(model, analysis.x, None, 4)
    assert cam.cam.class_index == 4 and cam.class_name == NAMES[4] and cam.cam.layer == "layer3"
    np.testing.assert_array_equal(cam.display, analysis.display)


def test_figure7_on_the_synthetic_test_images_and_the_loaded_ones(model):
    from resnet_studio.core.synthetic import make_synthetic

    batch = jobs.figure7_batch(model.preprocessing, "synthetic", [], 4)
    raw, _ = make_synthetic(4, 32, SYNTHETIC_TEST_SEED_OFFSET)  # the seed is the catalog's
    mean = torch.tensor(CIFAR_PREPROCESSING.mean).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_PREPROCESSING.std).view(1, 3, 1, 1)
    torch.testing.assert_close(batch, (raw.float() / 255 - mean) / std)
    control = Cancelling(100)
    stats = jobs.figure7(jobs.labelled(model, model), "images", [noise(1), noise(2)], 8, control)
    assert list(stats) == ["cifar-resnet20", "cifar-resnet20 (compared)"]
    assert all(s.images == 2 and len(s.std) == 19 for s in stats.values())
    assert control.progressed == [(0, 2), (1, 2), (2, 2)]
    with pytest.raises(StudioError, match="No images loaded"):
        jobs.figure7({"a": model}, "images", [], 8)


def test_jobs_stop_at_the_controls_check(model):
    with pytest.raises(KeyboardInterrupt):
        jobs.analyse(model, noise(), "layer1", job=Cancelling(2))
    with pytest.raises(KeyboardInterrupt):
        jobs.load_files(["/nowhere.png"], Cancelling(1))


def test_images_load_with_thumbnails_and_bad_ones_become_messages(tmp_path):
    good = tmp_path / "good.png"
    noise(size=(200, 100)).save(good)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    loaded = jobs.load_files([str(good), str(tmp_path / "bad.png")])
    assert [i.label for i in loaded.images] == ["good.png"] and loaded.images[0].path == str(good)
    assert loaded.images[0].thumbnail.shape == (48, 96, 3) and "bad.png" in loaded.errors[0]
    pasted = jobs.load_bytes("pasted image", good.read_bytes())
    assert pasted.images[0].path is None and not pasted.errors
    assert jobs.load_bytes("x", b"junk").errors


def test_the_compare_model_from_a_name_a_file_or_nothing(weight_file, tmp_path):
    with pytest.raises(StudioError, match="Type a network"):
        jobs.build_compare_bundle(1, " ", "")
    assert twin("plain34") == "resnet34" and twin("resnet50-v1d") == "plain50-v1d"  # the Plain twin button
    trained = jobs.build_compare_bundle(2, twin("cifar-resnet20"), "")  # no weights named: the shipped ones
    assert trained.name == "cifar-plain20" and not trained.random_weights and trained.generation == 2
    assert trained.weights_text.startswith("trained by resnet-studio")
    random = jobs.build_compare_bundle(2, "cifar-plain32", "")  # nothing ships for it
    assert random.random_weights
    from_file = jobs.build_compare_bundle(3, "", str(weight_file))  # the file names its network
    assert from_file.name == "cifar-resnet20" and from_file.predictor.class_names == NAMES
    with pytest.raises(StudioError, match="not a weight file, a run"):
        jobs.build_compare_bundle(4, "cifar-resnet20", str(tmp_path / "no-such-run"))


def test_the_cli_runs_the_windows_jobs(capsys, monkeypatch, tmp_path, weight_file, model):
    image_path = tmp_path / "cat.png"
    noise().save(image_path)
    calls = []
    for name in ("analyse", "residual", "gradcam", "figure7", "open_bundle"):
        original = getattr(jobs, name)
        monkeypatch.setattr(jobs, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    code = cli.main(["inspect", str(image_path), "--model", "cifar-resnet20", "--weights", str(weight_file),
                     "--layer", "layer2.0", "--gradcam", "--fig7", "--json", "--out", str(tmp_path),
                     "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert calls == ["open_bundle", "analyse", "residual", "gradcam", "figure7"]
    row = json.loads(out[0])
    window = jobs.analyse(model, Image.open(image_path).convert("RGB"), "layer2.0")
    assert [t["index"] for t in row["top"]] == [s.index for s in window.top]
    assert [t["probability"] for t in row["top"]] == pytest.approx([s.probability for s in window.top], rel=1e-5)
