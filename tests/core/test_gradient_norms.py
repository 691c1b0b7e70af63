"""Gradient norms by layer (issue 12, "Gradient flow"): what the trainer records equals
a plain loop's torch.linalg.vector_norm of each layer's .grad averaged over the window,
on the same batches; the layer list and depths; the records survive a resume; the
events carry them; the recipe turns them off; the store's checks."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from resnet_studio.core.data import DeviceBatches, load_dataset
from resnet_studio.core.errors import RunDamagedError
from resnet_studio.core.gradient_norms import layer_depths, recorded_layers
from resnet_studio.core.models import create_model
from resnet_studio.core.recipes import get_recipe
from resnet_studio.core.runs import open_run
from resnet_studio.core.runs.grad_layers import read_grad_layers, write_grad_layers
from resnet_studio.core.runs.layout import GRAD_LAYERS
from resnet_studio.core.runs.validation import grad_norms_of
from resnet_studio.core.train import TrainControl, resume, train
from resnet_studio.core.training_events import Progressed, RunStarted

SEED, BATCH, LOG_EVERY, ITERATIONS = 3, 32, 5, 10
TINY = dict(image_size=8, batch_size=BATCH, val_size=256, iterations=ITERATIONS,
            milestones=(30,), eval_every=10, log_every=LOG_EVERY, checkpoint_every=10,
            seed=SEED, amp=False)  # fmt: skip  # the reference loop below runs in fp32


def tiny_recipe(**changes):
    return get_recipe("quick").with_overrides(**{**TINY, **changes})


def independent_norms(name: str, recipe) -> list[list[float]]:
    """The window means of each conv/linear weight's gradient norm, by a plain loop:
    same data, same seed, same batches, same optimiser as the trainer."""
    data = load_dataset("synthetic", image_size=recipe.image_size, val_size=recipe.val_size,
                        seed=SEED)  # fmt: skip
    torch.manual_seed(SEED)
    model = create_model(name, len(data.class_names))
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)  # fmt: skip
    batches = DeviceBatches(data.train, BATCH, "cpu", train=True, augment=recipe.augment,
                            normalize=data.normalize(recipe.normalization), seed=SEED,
                            drop_last=True).epoch(0)  # fmt: skip
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.train()
    windows, window = [], []
    for _ in range(ITERATIONS):
        x, y = next(batches)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        window.append([torch.linalg.vector_norm(m.weight.grad).item() for m in weighted])
        optimizer.step()
        if len(window) == LOG_EVERY:
            windows.append(torch.tensor(window, dtype=torch.float64).mean(0).tolist())
            window = []
    return windows


@pytest.mark.parametrize("name", ["cifar-resnet8", "cifar-plain8"])
def test_recorded_norms_equal_a_plain_loops_over_each_window(tmp_path, name):
    recipe = tiny_recipe()
    events = []
    [result] = train([name], recipe, runs_dir=tmp_path, on_event=events.append)
    records = open_run(result.name, tmp_path).read_metrics()
    expected = independent_norms(name, recipe)
    assert len(records) == len(expected) == ITERATIONS // LOG_EVERY
    for record, reference in zip(records, expected, strict=True):
        assert len(record["grad_norms"]) == 8  # Table 6's 8 weighted layers: 7 convs + fc
        assert record["grad_norms"] == pytest.approx(reference, rel=1e-4, abs=1e-7)
    # the events carry the same numbers, and the layers they belong to
    windows = [e for e in events if isinstance(e, Progressed)]
    assert [list(w.grad_norms) for w in windows] == [r["grad_norms"] for r in records]
    [start] = [e for e in events if isinstance(e, RunStarted)]
    names, depths = read_grad_layers(open_run(result.name, tmp_path).path)
    assert list(start.grad_layers) == names == [
        n for n, m in create_model(name).named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(start.grad_depths) == depths == list(range(1, 9))


def test_depth_counts_the_main_path_and_skips_projection_shortcuts():
    names = [n for n, _ in recorded_layers(create_model("cifar-resnet20", shortcut="B"))]
    depths = layer_depths(names)
    assert len(names) == 22  # 19 convs + fc on the path, 2 projections (option B)
    assert [n for n, d in zip(names, depths, strict=True) if d is None] == [
        "layer2.0.downsample.0", "layer3.0.downsample.0"]
    assert [d for d in depths if d is not None] == list(range(1, 21))
    resnet18 = layer_depths([n for n, _ in recorded_layers(create_model("resnet18"))])
    assert max(d for d in resnet18 if d is not None) == 18 and resnet18.count(None) == 3


def test_norms_survive_a_stop_and_resume_equal_to_an_uninterrupted_run(tmp_path):
    recipe = tiny_recipe(iterations=20)
    [reference] = train(["cifar-resnet8"], recipe, runs_dir=tmp_path / "reference")
    control = TrainControl()

    def stop_after_iteration_10(event):
        if isinstance(event, Progressed) and event.iteration >= 10:
            control.stop()

    [stopped] = train(["cifar-resnet8"], recipe, runs_dir=tmp_path / "resumed",
                      on_event=stop_after_iteration_10, control=control)  # fmt: skip
    assert stopped.status == "cancelled" and stopped.iterations == 10
    [resumed] = resume([stopped.name], runs_dir=tmp_path / "resumed")
    assert resumed.status == "finished"
    got = open_run(stopped.name, tmp_path / "resumed").read_metrics()
    expected = open_run(reference.name, tmp_path / "reference").read_metrics()
    assert [r["iteration"] for r in got] == [5, 10, 15, 20]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine["grad_norms"] == pytest.approx(theirs["grad_norms"], rel=1e-4, abs=1e-7)


def test_the_recipe_turns_the_recording_off(tmp_path):
    events = []
    [result] = train(["cifar-resnet8"], tiny_recipe(grad_norms=False), runs_dir=tmp_path,
                     on_event=events.append)  # fmt: skip
    run = open_run(result.name, tmp_path)
    assert all("grad_norms" not in r for r in run.read_metrics())
    assert read_grad_layers(run.path) is None
    assert all(e.grad_norms == () for e in events if isinstance(e, Progressed))
    assert [e.grad_layers for e in events if isinstance(e, RunStarted)] == [()]


def test_the_layer_file_is_checked_when_read(tmp_path):
    write_grad_layers(tmp_path, ["conv1", "layer2.0.downsample.0", "fc"], [1, None, 2])
    assert read_grad_layers(tmp_path) == (["conv1", "layer2.0.downsample.0", "fc"], [1, None, 2])
    for doc, problem in (({"layers": ["conv1"], "depths": [1, 2]}, "1 layers but gives 2"),
                         ({"layers": "conv1", "depths": [1]}, "not a list of layer names"),
                         ({"layers": ["conv1"], "depths": [0]}, "integers >= 1 or null")):  # fmt: skip
        (tmp_path / GRAD_LAYERS).write_text(json.dumps(doc))
        with pytest.raises(RunDamagedError, match=problem) as caught:
            read_grad_layers(tmp_path)
        assert GRAD_LAYERS in str(caught.value) and "Delete it" in str(caught.value)


def test_a_records_norms_are_read_as_floats_or_not_at_all():
    assert grad_norms_of({"iteration": 5, "grad_norms": [0.5, None, 2]}) == pytest.approx(
        [0.5, float("nan"), 2.0], nan_ok=True)
    for bad in ("0.5", [], [0.5, "x"], [-1.0], [True], None):
        assert grad_norms_of({"iteration": 5, "grad_norms": bad}) is None
    assert grad_norms_of({"iteration": 5}) is None
