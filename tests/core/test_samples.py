"""The shipped samples: one real CIFAR-10 test image per class, as the data holds them."""

import zipfile
from pathlib import Path

import pytest

from resnet_studio.core.images import load_image
from resnet_studio.core.samples import sample_paths, true_class
from resnet_studio.core.weights import CIFAR10_CLASSES

TEST_ZIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg" / "test.zip"


def test_one_decodable_32px_image_per_class_in_label_order():
    paths = sample_paths()
    assert [true_class(p) for p in paths] == list(CIFAR10_CLASSES)
    for path in paths:
        image = load_image(path)
        assert image.size == (32, 32) and image.mode == "RGB"
    assert true_class("elsewhere/cat.jpg") is None


@pytest.mark.skipif(not TEST_ZIP.is_file(), reason="the shared CIFAR-10 copy is not beside the checkout")
def test_the_samples_are_the_first_test_image_of_each_class_byte_for_byte():
    with zipfile.ZipFile(TEST_ZIP) as archive:
        for path in sample_paths():
            assert path.read_bytes() == archive.read(f"test/{true_class(path)}/0000.jpg")
