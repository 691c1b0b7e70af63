"""The torch-free catalog: the name grammar both ways, twins, suffixes, preprocessing."""

import pytest

from resnet_studio.core import catalog
from resnet_studio.core.catalog import (
    CIFAR_PREPROCESSING,
    IMAGENET_PREPROCESSING,
    ModelChoice,
    Preprocessing,
    compose_name,
    is_plain,
    model_names,
    parse_name,
    plain_twin,
    residual_twin,
    resolve_preprocessing,
    twin,
)
from resnet_studio.core.errors import ModelNameError


@pytest.mark.parametrize("name", model_names())
def test_compose_is_the_inverse_of_parse(name):
    spec = parse_name(name)
    assert compose_name(spec.family, spec.depth, plain=spec.plain, variant=spec.variant) == name


def test_compose_falls_back_to_v15_for_basic_blocks():
    assert compose_name("imagenet", 18, variant="v1") == "resnet18"
    assert compose_name("imagenet", 50, variant="v1") == "resnet50-v1"
    assert compose_name("cifar", 62, plain=True) == "cifar-plain62"  # any 6n+2


def test_listed_names_are_unique_and_every_one_parses():
    names = model_names()
    assert len(names) == len(set(names)) == 78  # 58 + 20 pre-act and CIFAR-bottleneck names
    assert {"resnet50-v1d", "plain152-cifar", "cifar-resnet1202", "cifar-plain20"} <= set(names)


@pytest.mark.parametrize(
    ("name", "plain", "residual"),
    [("cifar-resnet56", "cifar-plain56", "cifar-resnet56"),
     ("plain34-v1d", "plain34-v1d", "resnet34-v1d"),
     ("ResNet50-v1", "plain50-v1", "resnet50-v1")],
)  # fmt: skip
def test_twins(name, plain, residual):
    assert plain_twin(name) == plain
    assert residual_twin(name) == residual
    assert twin(plain) == residual and twin(residual) == plain


def test_is_plain_reads_names_and_run_labels():
    assert is_plain("cifar-plain20") and is_plain("plain50-v1d") and is_plain("cifar-plain20 (A)")
    assert not is_plain("cifar-resnet20") and not is_plain("resnet18-cifar (B)")


def test_bad_names_say_what_names_look_like():
    with pytest.raises(ModelNameError, match="6n\\+2"):
        parse_name("cifar-resnet21")
    with pytest.raises(ModelNameError, match="resnet-studio models"):
        parse_name("vgg16")


def test_model_choice_resolves_defaults():
    assert ModelChoice("CIFAR-ResNet20").resolved() == ModelChoice("cifar-resnet20", 10, "A")
    assert ModelChoice("resnet50", shortcut="c").resolved() == ModelChoice("resnet50", 1000, "C")
    assert ModelChoice("cifar-plain20").resolved().shortcut is None
    with pytest.raises(ModelNameError, match="plain net"):
        ModelChoice("cifar-plain20", shortcut="A").resolved()
    assert ModelChoice("cifar-resnet20", shortcut="B").label == "cifar-resnet20 (B)"


def test_preprocessing_prefers_the_weights_own():
    assert resolve_preprocessing("resnet50") == IMAGENET_PREPROCESSING
    assert resolve_preprocessing("cifar-plain56") == CIFAR_PREPROCESSING
    assert resolve_preprocessing("resnet18-cifar") == CIFAR_PREPROCESSING
    own = {"input_size": 32, "resize_size": 32, "mean": [0.5, 0.5, 0.5], "std": [1, 1, 1]}
    assert resolve_preprocessing("resnet50", own) == Preprocessing(32, 32, (0.5,) * 3, (1.0,) * 3)
    prep = Preprocessing(64, 72, (0, 0, 0), (1, 1, 1))
    assert resolve_preprocessing(None, prep) is prep
    with pytest.raises(ModelNameError):
        resolve_preprocessing(None)


def test_file_suffixes_and_filters():
    assert catalog.is_weight_file("a/B.SafeTensors") and catalog.is_weight_file("resnet20-12fca82f.th")
    assert catalog.is_image_file("x.JPEG") and not catalog.is_image_file("x.txt")
    assert catalog.WEIGHTS_FILTER.startswith("Weight files (*.bin *.ckpt *.pt *.pth *.safetensors *.th)")
    assert catalog.IMAGES_FILTER.endswith(";;All files (*)")
