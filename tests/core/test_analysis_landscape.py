"""Loss landscape: the origin is the evaluated loss, directions are filter-normalised
with BN and biases at 0, a seed fixes the surface, the model is never written."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from resnet_studio.core.analysis import directions, loss_landscape, steps
from resnet_studio.core.errors import StudioError
from tests.core.analysis_fixtures import images, perturbed


def test_the_loss_at_the_origin_is_the_evaluated_loss():
    model = perturbed("cifar-resnet20")
    data = images(count=40, batch=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = loss_landscape(model, data, dims=1, points=5, seed=0)
    with torch.inference_mode():
        losses = [F.cross_entropy(model(x), t, reduction="sum") for x, t in data.batches]
        hits = [(model(x).argmax(1) == t).sum() for x, t in data.batches]
    assert result.alphas == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert result.origin_loss() == pytest.approx(float(sum(losses)) / 40, rel=1e-6)
    assert result.accuracy[2] == pytest.approx(100.0 * int(sum(hits)) / 40)
    assert all(loss > result.origin_loss() for i, loss in enumerate(result.loss) if i != 2)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_directions_have_the_weights_filter_norms_and_leave_bn_and_biases():
    model = perturbed("cifar-resnet20")
    (d,) = directions(model, 1, seed=3)
    assert set(d) == {name for name, _ in model.named_parameters()}
    moved = 0
    for name, theta in model.named_parameters():
        if theta.dim() == 1:  # BN weight/bias, fc bias
            assert not d[name].any(), name
            continue
        dims = tuple(range(1, theta.dim()))
        torch.testing.assert_close(torch.linalg.vector_norm(d[name], dim=dims),
                                   torch.linalg.vector_norm(theta.detach(), dim=dims), rtol=1e-5, atol=1e-6)  # fmt: skip
        assert not torch.allclose(d[name], theta)  # random, not the weight itself
        moved += 1
    assert moved == 19 + 1  # cifar-resnet20: 19 convolutions and the fc weight


def test_a_seed_fixes_the_surface_and_another_seed_changes_it():
    model = perturbed("cifar-resnet20", seed=2)
    data = images(count=16, batch=8)
    first = loss_landscape(model, data, dims=2, points=3, seed=7)
    again = loss_landscape(model, data, dims=2, points=3, seed=7)
    other = loss_landscape(model, data, dims=2, points=3, seed=8)
    assert first.loss == again.loss and first.accuracy == again.accuracy
    assert first.loss != other.loss
    assert len(first.loss) == 3 and all(len(row) == 3 for row in first.loss)
    assert first.origin_loss() == pytest.approx(other.origin_loss(), rel=1e-9)
    # Direction 1 of the grid is the 1D direction of the same seed: the row beta = 0.
    line = loss_landscape(model, data, dims=1, points=3, seed=7)
    assert line.loss == pytest.approx(first.loss[1], rel=1e-5)


def test_bad_arguments_say_what_is_allowed():
    assert steps(3, 0.5) == [-0.5, 0.0, 0.5]
    assert steps(51)[25] == 0.0 and len(steps(51)) == 51
    with pytest.raises(StudioError, match="odd"):
        steps(50)
    with pytest.raises(StudioError, match="dims"):
        directions(perturbed("cifar-resnet20"), 3, seed=0)
