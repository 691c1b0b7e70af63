"""The trained weights that ship in the package (resources/weights/), measured again:
what their provenance records is what they do, on the images that ship beside them
(always) and on a slice of the shared CIFAR-10 test zip (when it is beside the checkout).
"""

from pathlib import Path

import pytest

from resnet_studio.core.catalog import resolve_preprocessing
from resnet_studio.core.evaluation import evaluate_loaded
from resnet_studio.core.images import load_image
from resnet_studio.core.models import create_model
from resnet_studio.core.predict import Predictor
from resnet_studio.core.samples import cifar10_test_slice, sample_paths, true_class
from resnet_studio.core.weights import CIFAR10_CLASSES, resolve_model_and_weights, shipped

TEST_ZIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg" / "test.zip"
SHIPPED = shipped.shipped_names()


def test_the_paper_pair_ships_trained():
    assert {"cifar-resnet20", "cifar-plain20"} <= set(SHIPPED)


@pytest.fixture(scope="module", params=SHIPPED)
def loaded(request):
    return resolve_model_and_weights(request.param)


def test_they_load_as_the_default_weights_of_their_net(loaded):
    name = loaded.model_name
    found = shipped.shipped_weights(name)
    assert loaded.shipped == found and loaded.class_names == list(CIFAR10_CLASSES)
    ours = {k: tuple(v.shape) for k, v in loaded.model.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in create_model(name).state_dict().items()}
    assert all(v.dtype.is_floating_point and v.dtype.itemsize == 4
               for v in loaded.model.state_dict().values() if v.is_floating_point())  # computes in fp32
    assert found.path.stat().st_size <= 1.1e6  # about 1 MB or less per net
    p = found.provenance
    assert p["model"] == name and p["config"]["model"]["name"] == name
    assert p["command"].startswith("resnet-studio train") and name in p["command"]
    assert p["status"]["status"] == "finished"
    assert found.label == (f"trained by resnet-studio: {p['epochs']:g} epochs, "
                           f"{p['test_top1']:.1f} % on the CIFAR-10 test set")  # fmt: skip


def test_their_recorded_accuracy_on_the_shipped_test_slice(loaded):
    recorded = loaded.shipped.provenance["shipped_slice"]
    measured = evaluate_loaded(loaded, f"zip:{cifar10_test_slice()}", device="cpu")
    assert measured.images == recorded["images"] == 100
    assert round(measured.top1 * measured.images / 100) == recorded["correct"]


@pytest.mark.skipif(not TEST_ZIP.is_file(), reason="the shared CIFAR-10 copy is not beside the checkout")
def test_their_recorded_accuracy_on_a_slice_of_the_test_zip(loaded):
    recorded = loaded.shipped.provenance["slice"]
    measured = evaluate_loaded(loaded, f"zip:{TEST_ZIP}", device="cpu", limit=recorded["limit"])
    assert round(measured.top1 * measured.images / 100) == recorded["correct"]


def test_the_samples_they_classify_right(loaded):
    prep = resolve_preprocessing(loaded.model_name, loaded.preprocessing)
    predictor = Predictor(loaded.model, prep, loaded.class_names, device="cpu")
    right = [true_class(p) for p in sample_paths()
             if predictor.predict([load_image(p)], 1)[0][0].name == true_class(p)]  # fmt: skip
    assert right == loaded.shipped.provenance["samples_right"]
    if not loaded.model_name.startswith("cifar-plain"):
        assert len(right) >= 6  # most of the ten samples, offline, out of the box
