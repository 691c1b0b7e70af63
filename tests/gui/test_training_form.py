"""The Training panel's settings form: the Figure 6 button sets up the paper's four nets
with the figure6 recipe on real CIFAR-10 (a chosen CIFAR-10 zip or folder, else
torchvision's CIFAR-10 downloaded on first use), and synthetic data is the labelled
offline fallback."""

from __future__ import annotations

import pytest

from resnet_studio.core.recipes import get_recipe
from resnet_studio.gui.training_form import FIGURE6_MODELS, FIGURE6_RECIPE, TrainingForm

pytestmark = pytest.mark.gui


@pytest.fixture
def form(qtbot):
    widget = TrainingForm()
    qtbot.addWidget(widget)
    return widget


def test_figure6_is_the_default_and_trains_on_real_cifar10(form):
    assert form.models() == list(FIGURE6_MODELS)
    recipe = form.recipe()
    expected = get_recipe(FIGURE6_RECIPE)
    assert recipe.name == FIGURE6_RECIPE and recipe.dataset == "cifar10" and recipe.download
    assert (recipe.iterations, recipe.image_size, recipe.test_size) == (
        expected.iterations, expected.image_size, expected.test_size)


def test_the_button_keeps_a_cifar10_zip_the_user_chose(form, tmp_path):
    form.set_models(["cifar-resnet110"])
    form.recipe_combo.setCurrentText("paper-cifar")
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData("zip"))
    form.path_edit.setText(str(tmp_path / "cifar10-train.zip"))
    form.choose_figure6()
    recipe = form.recipe()
    assert form.models() == list(FIGURE6_MODELS) and recipe.name == FIGURE6_RECIPE
    assert recipe.dataset == f"zip:{tmp_path / 'cifar10-train.zip'}"


def test_without_a_chosen_copy_the_button_downloads_cifar10(form):
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData("synthetic"))
    form.choose_figure6()
    recipe = form.recipe()
    assert recipe.dataset == "cifar10" and recipe.download


def test_the_offline_fallback_is_synthetic_and_says_so(form):
    form.choose_figure6()
    form.use_synthetic()
    recipe = form.recipe()
    assert recipe.dataset == "synthetic" and recipe.name == FIGURE6_RECIPE
    assert "not CIFAR-10" in form.dataset_combo.currentText()
