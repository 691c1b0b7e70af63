"""The network the user works on: which one (`ModelChoice`) and the weights loaded
for it. The Model panel changes it; the Inspection and Training panels follow it.

Weights belong to one architecture: choosing another network drops them (and says
so through `weights_dropped`), loading weights sets the choice to theirs.
"""

from __future__ import annotations

from typing import Any

from resnet_studio.app.observable import Emitter
from resnet_studio.core.catalog import ModelChoice, Preprocessing, resolve_preprocessing

DEFAULT_CHOICE = ModelChoice("cifar-resnet56", 10, "A")


class ModelState:
    """Emitters: `changed(choice, weights)` after any change of either;
    `weights_dropped(choice)` when a new choice discarded loaded weights."""

    def __init__(self, choice: ModelChoice = DEFAULT_CHOICE) -> None:
        self.changed = Emitter()
        self.weights_dropped = Emitter()
        self._choice = choice.resolved()
        self._weights: Any = None  # core.weights.LoadResult
        self._weights_choice: ModelChoice | None = None

    @property
    def choice(self) -> ModelChoice:
        """Always resolved: num_classes and shortcut filled in (None for plain nets)."""
        return self._choice

    @property
    def weights(self) -> Any:
        """The core LoadResult loaded for the current choice, or None (random weights)."""
        return self._weights

    @property
    def preprocessing(self) -> Preprocessing:
        prep = self._weights.preprocessing if self._weights is not None else None
        return resolve_preprocessing(self._choice.name, prep)

    def set_choice(self, choice: ModelChoice) -> None:
        """A new network; loaded weights stay only if it is the one they are for."""
        choice = choice.resolved()
        if choice == self._choice:
            return
        self._choice = choice
        if self._weights is not None and choice != self._weights_choice:
            self._weights, self._weights_choice = None, None
            self.weights_dropped.emit(choice)
        self.changed.emit(self._choice, self._weights)

    def set_weights(self, result: Any) -> None:
        """Weights loaded (core LoadResult): the choice becomes their architecture."""
        fc = getattr(result.model, "fc", None)
        classes = fc.out_features if fc is not None else self._choice.num_classes
        name = result.model_name or self._choice.name
        shortcut = self._choice.shortcut if name == self._choice.name else None
        self._weights = result
        self._weights_choice = self._choice = ModelChoice(name, classes, shortcut).resolved()
        self.changed.emit(self._choice, self._weights)

    def clear_weights(self) -> None:
        """Back to random initialisation (an explicit choice of the user)."""
        if self._weights is not None:
            self._weights, self._weights_choice = None, None
            self.changed.emit(self._choice, None)
