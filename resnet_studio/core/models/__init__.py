"""The model zoo: the paper's ImageNet and CIFAR nets, mmpretrain's variants, plain twins.

The names and their grammar are the torch-free catalog's, exported here too so that
`from resnet_studio.core.models import parse_name, create_model` keeps working; this
package adds what needs torch: building, describing and tapping the networks.
"""

from resnet_studio.core.catalog import (
    ModelChoice,
    ModelSpec,
    compose_name,
    is_plain,
    model_names,
    parse_name,
    plain_twin,
    residual_twin,
    resolve_shortcut,
    twin,
)
from resnet_studio.core.models.blocks import BasicBlock, Bottleneck, ZeroPadShortcut
from resnet_studio.core.models.info import ModelInfo, StageInfo, model_info
from resnet_studio.core.models.intermediates import (
    forward_intermediates,
    intermediate_names,
    response_layer_names,
)
from resnet_studio.core.models.registry import create_model
from resnet_studio.core.models.resnet import ResNet

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ModelChoice",
    "ModelInfo",
    "ModelSpec",
    "ResNet",
    "StageInfo",
    "ZeroPadShortcut",
    "compose_name",
    "create_model",
    "forward_intermediates",
    "intermediate_names",
    "is_plain",
    "model_info",
    "model_names",
    "parse_name",
    "plain_twin",
    "residual_twin",
    "resolve_shortcut",
    "response_layer_names",
    "twin",
]
