"""Inspection: layer tree, activations, residual views, Grad-CAM and Figure 7.

Every function takes a zoo model (any mode: it runs in eval mode and the mode is
restored) and a preprocessed image tensor, makes one forward pass (Grad-CAM: plus
one partial backward) and returns plain dataclasses of CPU numpy arrays and floats,
never tensors. Images come back as uint8 H x W x 3 arrays, drawn without Qt, so the
GUI shows them and the CLI writes them with `save_png`.

Import from this package, not its modules: `_common` is shared inside it only.
"""

from resnet_studio.core.inspect._common import block_names, block_of
from resnet_studio.core.inspect.activations import ORDERS, FeatureMaps, activations, render_grid
from resnet_studio.core.inspect.colormaps import COLORMAPS, apply_colormap, colormap_lut, save_png
from resnet_studio.core.inspect.figure7 import Figure7Stats, figure7, response_std
from resnet_studio.core.inspect.gradcam import GradCam, grad_cam, gradcam_layers, overlay
from resnet_studio.core.inspect.plot import figure7_png
from resnet_studio.core.inspect.residual import (
    PLAIN_NOTE,
    Magnitude,
    ResidualProfile,
    ResidualView,
    residual_profile,
    residual_view,
)
from resnet_studio.core.inspect.tree import NODE_KINDS, LayerNode, layer_tree

__all__ = [
    "COLORMAPS",
    "NODE_KINDS",
    "ORDERS",
    "PLAIN_NOTE",
    "FeatureMaps",
    "Figure7Stats",
    "GradCam",
    "LayerNode",
    "Magnitude",
    "ResidualProfile",
    "ResidualView",
    "activations",
    "apply_colormap",
    "block_names",
    "block_of",
    "colormap_lut",
    "figure7",
    "figure7_png",
    "grad_cam",
    "gradcam_layers",
    "layer_tree",
    "overlay",
    "render_grid",
    "residual_profile",
    "residual_view",
    "response_std",
    "save_png",
]
