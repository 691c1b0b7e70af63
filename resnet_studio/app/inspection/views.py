"""The inspection views, one entry each: what a view is called, what it asks for,
which job computes it and what it waits for.

Adding a view means one `View` entry here, one job in `jobs` and one widget in the
gui (which draws the job's result and reports the view's settings). The panel
dispatches on these entries only: the key of what a view shows, whether it needs
the analysis (the top-k forward of the current image) first, whether it follows the
current image, and the queue's order all come from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from resnet_studio.app.inspection import jobs
from resnet_studio.app.inspection.control import JobControl

ANALYSIS = "analyse"  # the top-k forward with one layer's maps: every per-image view starts from it
# Jobs that are no view, ranked before every view: the models before what needs them,
# then images (a view of an image needs the image).
PREPARATION = ("model", "compare-model", "load")


# ----------------------------------------------------------------------------- settings
# What a view's controls ask for, as far as it needs a new job (colours, opacity or a
# channel only re-draw the result held, so they are not here).


@dataclass(frozen=True)
class AnalysisSettings:
    layer: str | None = None  # None: no layer chosen yet (the model's tree is not filled)
    order: str = "index"
    max_maps: int = 64
    # The grid is first drawn in the worker with these, but changing them needs no
    # forward (the widget re-draws), so they are no part of the key.
    colormap: str = field(default="viridis", compare=False)
    shared_scale: bool = field(default=True, compare=False)

    @property
    def complete(self) -> bool:
        return self.layer is not None


@dataclass(frozen=True)
class ResidualSettings:
    block: str | None = None

    @property
    def complete(self) -> bool:
        return self.block is not None


@dataclass(frozen=True)
class GradCamSettings:
    layer: str | None = None  # None: the last stage
    class_index: int | None = None  # None: the top class

    complete = True


@dataclass(frozen=True)
class Figure7Settings:
    source: str = "cifar10"  # the shipped CIFAR-10 test slice, "synthetic" test images or the loaded "images"
    count: int = 100  # images in the batch (the shipped slice has 100)

    complete = True

    @property
    def uses_loaded_images(self) -> bool:
        return self.source == "images"


@dataclass(frozen=True)
class CompareSettings:
    complete = True


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ViewInputs:
    """Everything a view's job may read, gathered by the state (`InspectionState.inputs`)."""

    model: jobs.ModelBundle
    models: dict[str, jobs.ModelBundle]  # labelled: the current model, then the compared one
    image: Any | None  # PIL image of the current image
    analysis: jobs.Analysis | None  # of the current image, when the view needs it
    images: list[Any]  # every loaded image, in strip order


def _analyse(inputs: ViewInputs, s: AnalysisSettings, job: JobControl) -> jobs.Analysis:
    return jobs.analyse(inputs.model, inputs.image, s.layer, s.max_maps, s.order, s.colormap, s.shared_scale, job)


def _residual(inputs: ViewInputs, s: ResidualSettings, job: JobControl) -> Any:
    return jobs.residual(inputs.model, inputs.analysis.x, s.block, job)


def _gradcam(inputs: ViewInputs, s: GradCamSettings, job: JobControl) -> jobs.GradCamResult:
    return jobs.gradcam(inputs.model, inputs.analysis.x, s.layer, s.class_index, job)


def _figure7(inputs: ViewInputs, s: Figure7Settings, job: JobControl) -> dict:
    return jobs.figure7(inputs.models, s.source, inputs.images, s.count, job)


def _compare(inputs: ViewInputs, s: CompareSettings, job: JobControl) -> jobs.Comparison:
    return jobs.compare(inputs.models, inputs.image, job)


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class View:
    """One view. `job(inputs, settings, job)` computes its result off the GUI thread."""

    key: str  # names the view, its queue kind and its freshness
    title: str  # the tab's title
    job: Callable[[ViewInputs, Any, JobControl], Any]
    settings: type  # its settings dataclass
    needs_analysis: bool  # waits for the current image's analysis (and reuses its input)
    per_image: bool  # follows the current image (else it reads all images or none)
    priority: int  # the queue runs the lowest first, after models and images
    uses_compare: bool = False  # shows the compared model too, when there is one
    requires_compare: bool = False  # shows nothing without a compared model
    placeholder: str = ""  # what it says while it cannot show anything


# In tab order. Priorities: the cheap top-k first (every per-image view waits for
# it), the slow Figure 7 last.
VIEWS: tuple[View, ...] = (
    View(ANALYSIS, "Activations", _analyse, AnalysisSettings, needs_analysis=False, per_image=True,
         priority=0),
    View("residual", "Residual block", _residual, ResidualSettings, needs_analysis=True, per_image=True,
         priority=1),
    View("gradcam", "Grad-CAM", _gradcam, GradCamSettings, needs_analysis=True, per_image=True,
         priority=2),
    View("figure7", "Figure 7", _figure7, Figure7Settings, needs_analysis=False, per_image=False,
         priority=4, uses_compare=True),
    View("compare", "Compare", _compare, CompareSettings, needs_analysis=False, per_image=True,
         priority=3, uses_compare=True, requires_compare=True,
         placeholder="Load a second model with “Compare with” above to see both side by side."),
)  # fmt: skip
BY_KEY: dict[str, View] = {v.key: v for v in VIEWS}
QUEUE_ORDER: tuple[str, ...] = (*PREPARATION, *(v.key for v in sorted(VIEWS, key=lambda v: v.priority)))


def view(key: str) -> View:
    """The entry of `key`; KeyError names the views there are."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"no inspection view {key!r}; views: {', '.join(BY_KEY)}") from None


def priority(kind: str) -> int:
    """Rank of a queue kind, lowest first: the models, images, the analysis, then the
    views in QUEUE_ORDER. A kind may carry a "#n" suffix (loads that never supersede)."""
    base = kind.split("#", 1)[0]
    return QUEUE_ORDER.index(base) if base in QUEUE_ORDER else len(QUEUE_ORDER)
