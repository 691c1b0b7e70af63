"""The view registry: one entry per view, and the queue's order comes from it."""

from __future__ import annotations

import inspect

import pytest

from resnet_studio.app.inspection import views
from resnet_studio.app.inspection.views import (
    ANALYSIS,
    PREPARATION,
    VIEWS,
    AnalysisSettings,
    Figure7Settings,
    GradCamSettings,
)


def test_one_entry_per_view_with_its_job_and_settings():
    keys = [v.key for v in VIEWS]
    assert keys == ["analyse", "residual", "gradcam", "figure7", "compare"]
    assert len(set(keys)) == len(keys) and set(views.BY_KEY) == set(keys)
    for v in VIEWS:
        assert list(inspect.signature(v.job).parameters) == ["inputs", "s", "job"]  # the queue passes `job`
        assert v.settings().complete in (True, False)  # every settings class has defaults
        assert v.title
    assert not views.view(ANALYSIS).needs_analysis  # it is the analysis
    assert views.view("residual").needs_analysis and views.view("gradcam").needs_analysis
    assert not views.view("figure7").per_image and views.view("compare").requires_compare
    assert views.view("compare").placeholder


def test_unknown_views_are_named_in_the_error():
    with pytest.raises(KeyError, match="residual"):
        views.view("histogram")


def test_queue_order_models_then_images_then_the_cheap_top_k_and_figure7_last():
    order = sorted(["figure7", "compare", "gradcam", "load#7", "analyse", "residual", "compare-model", "model"],
                   key=views.priority)  # fmt: skip
    assert order == ["model", "compare-model", "load#7", "analyse", "residual", "gradcam", "compare", "figure7"]
    assert views.QUEUE_ORDER[: len(PREPARATION)] == PREPARATION
    assert views.priority("something-else") == len(views.QUEUE_ORDER)  # unknown kinds run last


def test_settings_name_what_needs_a_new_job():
    a = AnalysisSettings("layer1", "mean", 16, colormap="viridis", shared_scale=True)
    assert a == AnalysisSettings("layer1", "mean", 16, colormap="gray", shared_scale=False)  # looks only
    assert a != AnalysisSettings("layer2", "mean", 16) and a != AnalysisSettings("layer1", "max", 16)
    assert not AnalysisSettings().complete and AnalysisSettings("stem").complete
    assert GradCamSettings("layer3", None) != GradCamSettings("layer3", 4)
    assert Figure7Settings("images", 8).uses_loaded_images and not Figure7Settings().uses_loaded_images
