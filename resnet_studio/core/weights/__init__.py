"""Reading and writing weight files of every supported format.

Ours are safetensors with a JSON description (model, options, class names,
preprocessing) in the header; torchvision, timm, mmpretrain and the CIFAR
reproductions' checkpoints are recognised by their keys and renamed into our layout.
Pickled files are opened with `weights_only=True` only: a file that would run code
is refused, never executed. Every failure a user can cause is a `WeightsError`.

    result = load_weights("resnet50", "torchvision:ResNet50_Weights.IMAGENET1K_V2")
    result = load_weights(None, "run/model.safetensors")  # name from the file
    wf = read_state_dict(path); conv = convert_state_dict(wf.state_dict, wf.format, "resnet18")
    conv.report.describe()  # a mismatch report, before any model is touched
"""

from resnet_studio.core.weights.classes import CIFAR10_CLASSES, CIFAR100_CLASSES, imagenet_classes
from resnet_studio.core.weights.files import (
    FORMAT_VERSION,
    META_KEY,
    save_weights,
    weights_metadata,
)
from resnet_studio.core.weights.formats import (
    FORMATS,
    Conversion,
    KeyReport,
    convert_state_dict,
    detect_format,
    guess_model_name,
)
from resnet_studio.core.weights.loading import LoadResult, WeightFile, load_weights, read_state_dict
from resnet_studio.core.weights.torchvision_hub import (
    PRETRAINED_NAMES,
    Progress,
    cache_path,
)

__all__ = [
    "CIFAR100_CLASSES",
    "CIFAR10_CLASSES",
    "FORMATS",
    "FORMAT_VERSION",
    "META_KEY",
    "PRETRAINED_NAMES",
    "Conversion",
    "KeyReport",
    "LoadResult",
    "Progress",
    "WeightFile",
    "cache_path",
    "convert_state_dict",
    "detect_format",
    "guess_model_name",
    "imagenet_classes",
    "load_weights",
    "read_state_dict",
    "save_weights",
    "weights_metadata",
]
