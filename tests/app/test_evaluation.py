"""The Qt-free evaluation job: events, cancel, and the text both window and CLI show."""

from __future__ import annotations

import pytest
import torch

from resnet_studio.app.evaluation import (
    EvaluationCancelled,
    EvaluationJob,
    EvaluationRequest,
    fraction,
    per_class_lines,
    progress_text,
    summary_lines,
)
from resnet_studio.core.evaluation import DecodeProgress, DownloadProgress, EvalProgress
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, load_weights, save_weights


@pytest.fixture
def setup(tmp_path):
    from PIL import Image

    torch.manual_seed(0)
    weights = tmp_path / "w.safetensors"
    save_weights(create_model("cifar-resnet8"), weights,
                 {"model": "cifar-resnet8", "class_names": list(CIFAR10_CLASSES)})  # fmt: skip
    for i, name in enumerate(CIFAR10_CLASSES):
        (tmp_path / "data" / name).mkdir(parents=True)
        for j in range(3):
            Image.new("RGB", (32, 32), (20 * i, 10 * j, 128)).save(tmp_path / "data" / name / f"{j}.png")
    return weights, f"folder:{tmp_path / 'data'}"


def test_the_job_reports_typed_events_and_a_result(setup):
    weights, dataset = setup
    events: list = []
    result = EvaluationJob(EvaluationRequest(None, str(weights), dataset, batch_size=8,
                                             device="cpu")).run(on_event=events.append)
    assert result.images == 30 and result.model == "cifar-resnet8"
    scored = [e for e in events if isinstance(e, EvalProgress)]
    assert [e.done for e in scored] == [8, 16, 24, 30] and fraction(scored[-1]) == 1.0
    lines = summary_lines(result)
    assert "30 images" in lines[0] and "(no published number)" in lines[1]
    assert len(per_class_lines(result)) == 10


def test_a_loaded_model_is_evaluated_as_it_is(setup):
    weights, dataset = setup
    loaded = load_weights(None, weights)
    result = EvaluationJob(EvaluationRequest(None, None, dataset, device="cpu"), loaded).run()
    assert result.weights == str(weights) and result.images == 30


def test_cancel_stops_at_the_next_batch(setup):
    weights, dataset = setup
    job = EvaluationJob(EvaluationRequest(None, str(weights), dataset, batch_size=4, device="cpu"))
    seen: list = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, EvalProgress):
            job.cancel()

    with pytest.raises(EvaluationCancelled):
        job.run(on_event=on_event)
    assert sum(isinstance(e, EvalProgress) for e in seen) == 1 and job.cancelled


def test_progress_text_for_every_event():
    assert progress_text(DownloadProgress(2_000_000, 4_000_000)) == "downloading 2.0 MB of 4.0 MB"
    assert progress_text(DecodeProgress(5, 10)) == "decoding 5 of 10 images"
    assert progress_text(EvalProgress(1000, 2000, 512.4)) == "evaluating 1,000 of 2,000 images, 512/s"
    assert fraction(DownloadProgress(5, 0)) is None
    with pytest.raises(TypeError):
        progress_text("nope")
