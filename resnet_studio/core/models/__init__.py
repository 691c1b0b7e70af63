"""The model zoo: the paper's ImageNet and CIFAR nets, mmpretrain's variants, plain twins."""

from resnet_studio.core.models.blocks import BasicBlock, Bottleneck, ZeroPadShortcut
from resnet_studio.core.models.info import ModelInfo, StageInfo, model_info
from resnet_studio.core.models.intermediates import (
    forward_intermediates,
    intermediate_names,
    response_layer_names,
)
from resnet_studio.core.models.registry import ModelSpec, create_model, model_names, parse_name
from resnet_studio.core.models.resnet import ResNet

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ModelInfo",
    "ModelSpec",
    "ResNet",
    "StageInfo",
    "ZeroPadShortcut",
    "create_model",
    "forward_intermediates",
    "intermediate_names",
    "model_info",
    "model_names",
    "parse_name",
    "response_layer_names",
]
