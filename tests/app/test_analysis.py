"""The analysis job: a model and its twin on one decoded set of images, the figures
equal to the core functions', cancel, and the printed lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnet_studio.app.analysis import (
    AnalysisCancelled,
    AnalysisJob,
    LandscapeRequest,
    LesionRequest,
    landscape_lines,
    lesion_lines,
    progress_text,
)
from resnet_studio.core.analysis import AnalysisProgress, lesion_loaded
from resnet_studio.core.models import create_model
from resnet_studio.core.weights import CIFAR10_CLASSES, load_weights, save_weights

TEST_ZIP = Path("/work/shared/data/cifar10-jpeg/test.zip")
pytestmark = pytest.mark.skipif(not TEST_ZIP.is_file(), reason="the shared CIFAR-10 JPEG test zip")
DATA = f"zip:{TEST_ZIP}"


@pytest.fixture
def weights(tmp_path):
    files = {}
    for name in ("cifar-resnet20", "cifar-plain20"):
        torch.manual_seed(len(name))
        files[name] = str(save_weights(create_model(name), tmp_path / f"{name}.safetensors",
                                       {"model": name, "class_names": CIFAR10_CLASSES}))  # fmt: skip
    return files


def test_a_lesion_job_runs_the_model_and_its_twin(weights):
    request = LesionRequest("cifar-resnet20", weights["cifar-resnet20"], DATA, compare="twin",
                            compare_weights=weights["cifar-plain20"], images=30, draws=1)  # fmt: skip
    events = []
    resnet, plain = AnalysisJob(request).run(on_event=events.append)
    assert (resnet.model, plain.model) == ("cifar-resnet20", "cifar-plain20")
    assert resnet.images == plain.images == 30
    assert plain.not_skippable == ["layer2.0", "layer3.0"] and not resnet.not_skippable
    direct = lesion_loaded(load_weights(None, weights["cifar-resnet20"]), DATA, images=30, draws=1)
    assert (resnet.error, resnet.single, resnet.removed_k) == (
        direct.error,
        direct.single,
        direct.removed_k,
    )
    passes = [e for e in events if isinstance(e, AnalysisProgress)]
    assert passes[-1].done == passes[-1].total and {e.model for e in passes} == {
        "cifar-resnet20",
        "cifar-plain20",
    }
    text = "\n".join(lesion_lines([resnet, plain]))
    assert "layer2.0, layer3.0" in text and f"{resnet.error:6.2f} %" in text
    assert "lesions, pass" in progress_text(passes[0])


def test_a_landscape_job_is_seeded_and_cancellable(weights):
    request = LandscapeRequest(
        "cifar-resnet20", weights["cifar-resnet20"], DATA, points=3, images=20
    )
    (first,) = AnalysisJob(request).run()
    (again,) = AnalysisJob(request).run()
    assert first.loss == again.loss and len(first.loss) == 3
    assert "alpha 0: loss" in "\n".join(landscape_lines([first]))
    job = AnalysisJob(request)
    seen = []

    def cancel_on_first_pass(event):
        seen.append(event)
        if isinstance(event, AnalysisProgress):
            job.cancel()

    with pytest.raises(AnalysisCancelled):
        job.run(on_event=cancel_on_first_pass)
    assert sum(isinstance(e, AnalysisProgress) for e in seen) == 1  # stopped at the next pass


def test_random_weights_are_asked_for_by_name():
    request = LesionRequest("cifar-resnet20", "random", DATA, images=10, draws=0)
    (result,) = AnalysisJob(request).run()
    assert result.weights == "random initialisation" and result.removed_k == []
