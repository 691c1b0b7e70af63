"""What the Inspection panel shows and asks for, without Qt.

Freshness works by keys. Every view remembers the `ViewKey` of what it shows and of
what it asked for; a key names the image, the model generations and the view's
settings. A change computes the new key of the analysis (the top-k forward) and of
the visible view only; a request whose key is already shown or asked for is not
repeated, and a newer one supersedes an older one (the window's queue cancels it and
the state refuses its result). Views that need the analysis wait until the current
image's analysis is shown, so the top-5 appears first.

The panel binds to this object: it forwards the widgets' settings (`set_settings`),
asks `requests(visible)` what to compute, and redraws on the emitters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from resnet_studio.app.inspection import jobs
from resnet_studio.app.inspection.views import ANALYSIS, VIEWS, ViewInputs, view
from resnet_studio.app.observable import Emitter


@dataclass(frozen=True)
class InspectImage:
    id: int
    label: str
    path: str | None  # None: pasted
    image: Any  # PIL RGB image, decoded by core.images.load_image
    size: tuple[int, int]  # (width, height) in pixels, upright
    thumbnail: Any = None  # uint8 RGB array made by the load job, for the strip


@dataclass(frozen=True)
class ViewKey:
    """What a view shows or asked for. Two requests with equal keys give the same
    picture, so the second is never computed."""

    view: str
    model_generation: int
    settings: Any  # the view's settings (views.AnalysisSettings, ...): layer, class_index, ...
    image_id: int | None = None  # per-image views: which image
    compare_generation: int = 0  # views of both models: which compared model (0: none)
    image_ids: tuple[int, ...] = ()  # views over the loaded images: which ones, in order


class InspectionState:
    """Emitters: `images_added(list[InspectImage])`, `image_removed(id)`,
    `current_changed(InspectImage | None)`, `model_changed(ModelBundle)`,
    `compare_changed(ModelBundle | None)`, `analysis_changed(Analysis | None)`."""

    def __init__(self) -> None:
        self.images_added = Emitter()
        self.image_removed = Emitter()
        self.current_changed = Emitter()
        self.model_changed = Emitter()
        self.compare_changed = Emitter()
        self.analysis_changed = Emitter()
        self._images: dict[int, InspectImage] = {}  # in the order they were added
        self._next_id = 1
        self._current: int | None = None
        self.model: jobs.ModelBundle | None = None
        self.compare: jobs.ModelBundle | None = None
        self.model_generation = 0  # of the latest model asked for
        self.compare_generation = 0
        self.analysis: jobs.Analysis | None = None  # of the image in shown(ANALYSIS)
        self._settings: dict[str, Any] = {v.key: v.settings() for v in VIEWS}
        self._shown: dict[str, ViewKey] = {}
        self._wanted: dict[str, ViewKey] = {}

    # ------------------------------------------------------------------ images
    def add_images(self, loaded: Iterable[jobs.LoadedImage]) -> list[InspectImage]:
        """Give each decoded image an id; emits `images_added` with the new ones."""
        added = []
        for item in loaded:
            image = InspectImage(self._next_id, item.label, item.path, item.image, item.image.size, item.thumbnail)
            self._next_id += 1
            self._images[image.id] = image
            added.append(image)
        if added:
            self.images_added.emit(added)
        return added

    def remove_image(self, image_id: int) -> None:
        if self._images.pop(image_id, None) is None:
            return
        self.image_removed.emit(image_id)
        if image_id == self._current and not self._images:
            self.select(None)

    def image_ids(self) -> list[int]:
        return list(self._images)

    def image(self, image_id: int) -> InspectImage | None:
        return self._images.get(image_id)

    @property
    def current(self) -> InspectImage | None:
        return self._images.get(self._current) if self._current is not None else None

    def select(self, image_id: int | None) -> bool:
        """Make `image_id` current (None: no image); False if it already was. What the
        per-image views asked for is forgotten (the window cancels those jobs)."""
        if image_id == self._current:
            return False
        self._current = image_id
        for v in VIEWS:
            if v.per_image:
                self._wanted.pop(v.key, None)
        if image_id is None:
            self.analysis = None
            self._shown.clear()
            self.analysis_changed.emit(None)
        self.current_changed.emit(self.current)
        return True

    # ------------------------------------------------------------------ models
    def request_model(self) -> int:
        """A new model was asked for: the generation its bundle will carry."""
        self.model_generation += 1
        return self.model_generation

    def set_model(self, bundle: jobs.ModelBundle) -> bool:
        """The model the views show from now on; every view is stale. False (and
        nothing changes) for a bundle of an older request."""
        if bundle.generation != self.model_generation:
            return False
        self.model = bundle
        self._shown.clear()
        self._wanted.clear()
        self.model_changed.emit(bundle)
        return True

    def request_compare(self) -> int:
        self.compare_generation += 1
        return self.compare_generation

    def set_compare(self, bundle: jobs.ModelBundle | None) -> bool:
        """The second model (None: none); False for a bundle of an older request."""
        if bundle is None:
            self.compare_generation += 1  # a load still running is stale now
        elif bundle.generation != self.compare_generation:
            return False
        self.compare = bundle
        self.compare_changed.emit(bundle)
        return True

    def labelled_models(self, with_compare: bool = True) -> dict[str, jobs.ModelBundle]:
        if self.model is None:
            return {}
        return jobs.labelled(self.model, self.compare if with_compare else None)

    # ------------------------------------------------------------------ freshness
    def settings(self, key: str) -> Any:
        return self._settings[key]

    def set_settings(self, key: str, settings: Any) -> None:
        """What view `key`'s controls ask for now (its widget reports them)."""
        if not isinstance(settings, view(key).settings):
            raise TypeError(f"{key} takes {view(key).settings.__name__}, got {type(settings).__name__}")
        self._settings[key] = settings

    def key(self, key: str) -> ViewKey | None:
        """What view `key` should show now; None when it cannot show anything."""
        v, settings = view(key), self._settings[key]
        if self.model is None or not settings.complete:
            return None
        if v.per_image and self.current is None:
            return None
        if v.requires_compare and self.compare is None:
            return None
        compare = self.compare.generation if v.uses_compare and self.compare is not None else 0
        return ViewKey(
            view=key, model_generation=self.model.generation, settings=settings,
            image_id=self._current if v.per_image else None, compare_generation=compare,
            image_ids=tuple(self._images) if getattr(settings, "uses_loaded_images", False) else (),
        )  # fmt: skip

    def shown(self, key: str) -> ViewKey | None:
        """The key of what view `key` shows."""
        return self._shown.get(key)

    def wanted(self, key: str) -> ViewKey | None:
        """The key of what view `key` asked for and waits for."""
        return self._wanted.get(key)

    def analysis_current(self) -> bool:
        """The current image's analysis, with the current settings, is shown."""
        key = self.key(ANALYSIS)
        return key is not None and self._shown.get(ANALYSIS) == key

    def is_ready(self) -> bool:
        """A model, and the current image's top-k shown (when there is an image)."""
        return self.model is not None and (self.current is None or self.analysis_current())

    def requests(self, visible: str) -> list[ViewKey]:
        """What to compute for the screen to be right: the current image's analysis
        first; once it is shown, the `visible` view. Each is marked as asked for."""
        analysis = self.key(ANALYSIS)
        if analysis is not None and self._shown.get(ANALYSIS) != analysis:
            if self._wanted.get(ANALYSIS) == analysis:
                return []  # asked for; the views wait for it
            self._wanted[ANALYSIS] = analysis
            return [analysis]
        if visible == ANALYSIS:
            return []
        key = self.key(visible)
        if key is None or key in (self._shown.get(visible), self._wanted.get(visible)):
            return []
        if view(visible).needs_analysis and not self.analysis_current():
            return []
        self._wanted[visible] = key
        return [key]

    def inputs(self, key: ViewKey) -> ViewInputs:
        """What the job of `key` reads, gathered now (the job runs later, elsewhere)."""
        v = view(key.view)
        current = self.current
        assert self.model is not None, "no inputs without a model"
        return ViewInputs(
            model=self.model, models=self.labelled_models(v.uses_compare),
            image=current.image if current is not None else None,
            analysis=self.analysis if v.needs_analysis else None,
            images=[image.image for image in self._images.values()],
        )  # fmt: skip

    def accept(self, key: ViewKey, result: Any) -> bool:
        """A job's result for `key`: True if it is what the view waits for, which it
        then shows; False (ignore it) if a newer request superseded it."""
        if self._wanted.get(key.view) != key:
            return False
        self._shown[key.view] = key
        if key.view == ANALYSIS:
            self.analysis = result
            self.analysis_changed.emit(result)
        return True

    def failed(self, key: str) -> None:
        """View `key`'s job failed: it waits for nothing (a later change asks again)."""
        self._wanted.pop(key, None)
