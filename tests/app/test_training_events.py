"""The typed training events: every kind survives its JSON (the pipe to a training
process and `train --json`), and the endings map to run statuses."""

from __future__ import annotations

import dataclasses
import json

import pytest

from resnet_studio.core import training_events as ev
from resnet_studio.core.catalog import RUN_STATUSES

# One instance of every concrete event class, with values of each field's kind.
SAMPLES = [
    ev.Loading("synthetic", 3, 10),
    ev.Paused(),
    ev.Resumed(),
    ev.RunStarted(run="r1", model="cifar-resnet8 (B)", path="/runs/r1", total_iterations=40,
                  iteration=20, batches_per_epoch=7),
    ev.RunStarted(run="r1", model="cifar-plain8", path=None, total_iterations=40, iteration=0,
                  batches_per_epoch=7),
    ev.Progressed(run="r1", iteration=5, epoch=0.7143, loss=2.25, train_error=0.875, lr=0.1,
                  images_per_s=1234.5, wall_time=1.25, eta_s=7.5, total_iterations=40),
    ev.Progressed(run="r1", iteration=10, epoch=1.4286, loss=2.0, train_error=0.75, lr=0.1,
                  images_per_s=1000.0, wall_time=2.5, eta_s=5.0, total_iterations=40,
                  grad_norms=(0.125, 0.0625, 1.5)),
    ev.RunStarted(run="r2", model="resnet18 (B)", path="/runs/r2", total_iterations=40,
                  iteration=0, batches_per_epoch=7, grad_layers=("conv1", "layer2.0.downsample.0", "fc"),
                  grad_depths=(1, None, 2)),
    ev.Evaluated(run="r1", iteration=20, epoch=2.8571, val_error=0.5, test_error=None),
    ev.Checkpointed(run="r1", iteration=10, path="/runs/r1/checkpoints/10.safetensors"),
    ev.RunFinished(run="r1", iteration=40),
    ev.RunCancelled(run="r1", iteration=17, reason="stopped by the user"),
    ev.RunDiverged(run="r1", iteration=7, reason="the loss became NaN; try a lower --lr"),
    ev.RunFailed(run="r1", iteration=0, reason="out of memory"),
]


def _concrete(cls):
    for sub in cls.__subclasses__():
        if sub.KIND:
            yield sub
        yield from _concrete(sub)


def test_the_samples_cover_every_event_class():
    assert set(_concrete(ev.TrainingEvent)) == {type(e) for e in SAMPLES}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json_text(event):
    data = event.to_json()
    assert data["event"] == event.KIND
    back = ev.event_from_json(json.loads(json.dumps(data)))
    assert back == event and type(back) is type(event)


def test_events_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLES[0].done = 4


def test_each_ending_is_a_run_status():
    endings = [e for e in SAMPLES if isinstance(e, ev.RunEnded)]
    assert {e.status for e in endings} == set(RUN_STATUSES) - {"running"}
    for ending in endings:
        made = ev.ended_event(ending.status, ending.run, ending.iteration, ending.reason)
        assert made == ending
    with pytest.raises(ValueError, match="running"):
        ev.ended_event("running", "r1", 0)


def test_unknown_or_malformed_events_are_refused():
    with pytest.raises(ValueError, match="metrics"):
        ev.event_from_json({"event": "metrics", "run": "r1"})
    with pytest.raises(ValueError, match="checkpointed"):
        ev.event_from_json({"event": "checkpointed", "run": "r1"})


def test_a_window_gives_back_its_record_and_an_evaluation_its_error():
    window = next(e for e in SAMPLES if isinstance(e, ev.Progressed))
    assert window.record() == {"iteration": 5, "epoch": 0.7143, "loss": 2.25,
                               "train_error": 0.875, "lr": 0.1, "images_per_s": 1234.5,
                               "wall_time": 1.25}  # fmt: skip
    assert ev.Evaluated("r", 1, 0.1, val_error=0.5, test_error=None).error == 0.5
    assert ev.Evaluated("r", 1, 0.1, val_error=0.5, test_error=0.25).error == 0.25


def test_a_window_with_gradient_norms_gives_them_back_as_its_record_list():
    window = next(e for e in SAMPLES if isinstance(e, ev.Progressed) and e.grad_norms)
    assert window.record()["grad_norms"] == [0.125, 0.0625, 1.5]
    # JSON brings lists: the event keeps tuples, so it stays hashable and equal
    back = ev.event_from_json(json.loads(json.dumps(window.to_json())))
    assert back.grad_norms == (0.125, 0.0625, 1.5) and hash(back) == hash(window)
