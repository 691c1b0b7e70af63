"""InspectionState: which views are stale, what to compute next, and which results
to refuse, with named keys. No Qt and no torch: models are stand-ins."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from resnet_studio.app.inspection.jobs import LoadedImage, ModelBundle
from resnet_studio.app.inspection.state import InspectionState, ViewKey
from resnet_studio.app.inspection.views import (
    AnalysisSettings,
    Figure7Settings,
    GradCamSettings,
    ResidualSettings,
)


def fake_image(label: str, size=(8, 6)) -> LoadedImage:
    return LoadedImage(label, f"/x/{label}", SimpleNamespace(size=size), thumbnail=None)


def fake_model(generation: int, name: str = "cifar-resnet20") -> ModelBundle:
    return ModelBundle(generation, SimpleNamespace(name=name, random_weights=True), blocks=["layer1.0"])


def ready_state(images: int = 2) -> InspectionState:
    state = InspectionState()
    state.set_model(fake_model(state.request_model()))
    state.add_images([fake_image(f"i{n}.png") for n in range(images)])
    state.set_settings("analyse", AnalysisSettings("layer1"))
    state.set_settings("residual", ResidualSettings("layer1.0"))
    return state


def test_images_get_ids_in_order_and_selection_and_removal_are_announced():
    state = InspectionState()
    added, current, removed = [], [], []
    state.images_added.connect(added.append)
    state.current_changed.connect(current.append)
    state.image_removed.connect(removed.append)
    images = state.add_images([fake_image("a.png", (40, 20)), fake_image("b.png")])
    assert [i.id for i in images] == state.image_ids() == [1, 2] and added == [images]
    assert images[0].size == (40, 20) and images[0].path == "/x/a.png"
    assert state.select(2) and not state.select(2) and state.current.label == "b.png"
    state.remove_image(1)
    assert removed == [1] and state.current.id == 2
    state.remove_image(2)
    assert state.current is None and current[-1] is None and state.image_ids() == []


def test_the_analysis_comes_first_and_the_views_wait_for_it():
    state = ready_state()
    assert state.requests("residual") == []  # no current image yet: nothing per image
    state.select(1)
    (analysis,) = state.requests("residual")
    assert analysis.view == "analyse" and analysis.image_id == 1 and analysis.settings.layer == "layer1"
    assert analysis.model_generation == state.model.generation == 1
    assert state.requests("residual") == []  # asked for: not again, and the residual view waits
    assert not state.is_ready()
    assert state.accept(analysis, "the analysis") and state.analysis == "the analysis" and state.is_ready()
    (residual,) = state.requests("residual")
    assert residual == ViewKey("residual", 1, ResidualSettings("layer1.0"), image_id=1)
    assert state.requests("residual") == []
    assert state.accept(residual, "view") and state.shown("residual") == residual
    assert state.requests("residual") == [] and state.requests("analyse") == []


def test_a_settings_change_asks_again_and_an_older_result_is_refused():
    state = ready_state()
    state.select(1)
    (old,) = state.requests("gradcam")
    state.accept(old, "a1")
    state.set_settings("gradcam", GradCamSettings("layer3", None))
    (first,) = state.requests("gradcam")
    state.set_settings("gradcam", GradCamSettings("layer3", 7))
    (second,) = state.requests("gradcam")
    assert second.settings.class_index == 7 and first.settings.class_index is None
    assert not state.accept(first, "superseded") and state.accept(second, "cam")
    state.select(2)  # a new image: what the per-image views asked for is forgotten
    assert state.wanted("gradcam") is None and state.key("gradcam").image_id == 2
    (analysis,) = state.requests("gradcam")
    assert analysis.image_id == 2 and not state.accept(old, "stale")


def test_a_new_model_makes_every_view_stale_and_an_older_build_is_refused():
    state = ready_state()
    state.select(1)
    (analysis,) = state.requests("analyse")
    state.accept(analysis, "a")
    older, newer = state.request_model(), state.request_model()
    assert not state.set_model(fake_model(older)) and state.model.generation == 1
    changed = []
    state.model_changed.connect(changed.append)
    assert state.set_model(fake_model(newer)) and changed == [state.model]
    assert state.shown("analyse") is None and not state.is_ready()
    assert state.requests("analyse")[0].model_generation == newer


def test_views_of_two_models_follow_the_compared_one():
    state = ready_state()
    state.select(1)
    state.accept(state.requests("analyse")[0], "a")
    assert state.key("compare") is None  # needs a second model
    assert state.key("figure7").compare_generation == 0 and state.key("figure7").image_id is None
    assert state.set_compare(fake_model(state.request_compare(), "cifar-plain20"))
    compare = state.key("compare")
    assert compare.compare_generation == 1 and compare.image_id == 1
    assert list(state.inputs(compare).models) == ["cifar-resnet20", "cifar-plain20"]
    assert list(state.inputs(state.key("residual")).models) == ["cifar-resnet20"]  # one model only
    assert state.key("residual").compare_generation == 0  # a compared model does not make it stale
    state.set_settings("figure7", Figure7Settings("images", 4))
    assert state.key("figure7").image_ids == (1, 2)  # over the loaded images: which ones count
    pending = state.request_compare()
    state.set_compare(None)  # cleared: a build still running is stale
    assert not state.set_compare(fake_model(pending)) and state.compare is None


def test_a_failed_job_is_asked_for_again_later():
    state = ready_state()
    state.select(1)
    (analysis,) = state.requests("analyse")
    state.failed("analyse")
    assert state.requests("analyse") == [analysis]


def test_the_application_layer_imports_without_qt_or_torch():
    code = ("import sys; sys.modules['PySide6'] = None; sys.modules['torch'] = None\n"
            "import resnet_studio.app.inspection.state, resnet_studio.app.inspection.views\n"
            "import resnet_studio.app.inspection.jobs, resnet_studio.app.inspection.control")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)
