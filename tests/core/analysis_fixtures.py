"""Small nets and images for the analysis tests: random weights with BN statistics
and affine parameters moved off their defaults, so a zeroed branch or a shifted
weight changes the outputs visibly."""

from __future__ import annotations

import torch

from resnet_studio.core.analysis import LabelledBatches
from resnet_studio.core.models import create_model


def perturbed(name: str, seed: int = 0, **options) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(name, **options)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.data = 0.5 + torch.rand(n)
            module.bias.data = 0.2 * torch.randn(n)
            module.running_mean = 0.1 * torch.randn(n)
            module.running_var = 0.5 + torch.rand(n)
    return model.eval()


def images(count: int = 48, batch: int = 16, seed: int = 1, targets=None) -> LabelledBatches:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 3, 32, 32, generator=g)
    t = torch.randint(0, 10, (count,), generator=g) if targets is None else targets
    batches = [(x[i : i + batch], t[i : i + batch]) for i in range(0, count, batch)]
    return LabelledBatches("random images", batches, 0)


def all_images(data: LabelledBatches) -> torch.Tensor:
    return torch.cat([x for x, _ in data.batches])
