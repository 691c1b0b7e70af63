"""Lesion study: a removed residual block equals a net whose branch is zeroed through
its last BN (an independent computation), the walk equals the hooks, plain blocks
that change shape are reported, draws are seeded, path lengths are binomial."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from resnet_studio.core.analysis import (
    LabelledBatches,
    lesion_errors,
    lesion_outputs,
    lesion_study,
    lesioned,
    named_blocks,
    path_length_counts,
    random_lesions,
    skippable,
)
from resnet_studio.core.errors import StudioError
from tests.core.analysis_fixtures import all_images, images, perturbed


def _branch_zeroed_by_bn(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """A copy whose block `name` has its last BN's weight and bias at 0: F(x) = 0."""
    twin = copy.deepcopy(model)
    block = dict(twin.named_modules())[name]
    bn = getattr(block, block.zero_init_layer)
    torch.nn.init.zeros_(bn.weight)
    torch.nn.init.zeros_(bn.bias)
    return twin


def _labelled_by(model: torch.nn.Module, data: LabelledBatches) -> LabelledBatches:
    """The same images, each labelled with `model`'s own prediction (its error is 0)."""
    with torch.inference_mode():
        return LabelledBatches(data.split, [(x, model(x).argmax(1)) for x, _ in data.batches], 0)


@pytest.mark.parametrize(
    "shortcut, name", [("A", "layer1.1"), ("A", "layer2.0"), ("B", "layer3.0")]
)
def test_a_removed_residual_block_is_the_net_with_its_branch_zeroed(shortcut, name):
    model = perturbed("cifar-resnet20", shortcut=shortcut)
    data = images()
    x = all_images(data)
    reference = _branch_zeroed_by_bn(model, name)
    with torch.inference_mode():
        expected, intact = reference(x), model(x)
        with lesioned(model, [name]):
            hooked = model(x)
        after = model(x)
    torch.testing.assert_close(hooked, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(intact, expected, atol=1e-3)  # the lesion changed something
    assert torch.equal(after, intact)  # the hooks are gone
    # The fast walk (which skips the branch) gives the same logits and errors.
    index = [n for n, _ in named_blocks(model)].index(name)
    walked, whole = lesion_outputs(model, x, [frozenset([index]), frozenset()])
    torch.testing.assert_close(walked, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(whole, intact, rtol=0, atol=1e-5)
    assert lesion_errors(model, _labelled_by(reference, data), [frozenset([index])]) == [0.0]


def test_the_walk_gives_the_hooks_errors_for_random_sets():
    model = perturbed("cifar-resnet20", seed=3)
    data = _labelled_by(model, images(seed=4))
    names = [n for n, _ in named_blocks(model)]
    sets = [frozenset(s) for s in ({0, 4}, {3, 7, 8}, {1, 2, 5, 6}, set(range(9)), {8})]
    walked = lesion_errors(model, data, sets)
    x = all_images(data)
    target = torch.cat([t for _, t in data.batches])
    for s, error in zip(sets, walked, strict=True):
        with torch.inference_mode(), lesioned(model, [names[i] for i in s]):
            wrong = int((model(x).argmax(1) != target).sum())
        assert error == pytest.approx(100.0 * wrong / len(x), abs=1e-9)


def test_a_plain_block_that_changes_shape_is_reported_and_cannot_be_removed():
    model = perturbed("cifar-plain20")
    assert [n for (n, _), ok in zip(named_blocks(model), skippable(model, 32), strict=True)
            if not ok] == ["layer2.0", "layer3.0"]  # fmt: skip
    result = lesion_study(model, images(count=16), input_size=32, draws=1, name="cifar-plain20")
    assert result.not_skippable == ["layer2.0", "layer3.0"]
    assert [i for i, e in enumerate(result.single) if e is None] == [3, 6]
    assert len(result.removed_k) == 7  # k = 1..7 of the 7 skippable blocks
    assert result.path_lengths == [0] * 9 + [1]  # one path, through all 9 blocks
    x = all_images(images(count=4))
    with (
        pytest.raises(StudioError, match="layer2.0 changes the shape"),
        lesioned(model, ["layer2.0"]),
    ):
        model(x)


def test_a_skipped_plain_block_is_the_net_without_it():
    model = perturbed("cifar-plain20", seed=5)
    x = all_images(images(count=8))
    without = copy.deepcopy(model)
    without.layer1[1] = torch.nn.Identity()
    with torch.inference_mode(), lesioned(model, ["layer1.1"]):
        torch.testing.assert_close(model(x), without(x), rtol=0, atol=0)


def test_the_study_has_every_lesion_and_the_k_curve_ends_with_all_removed():
    model = perturbed("cifar-resnet20", seed=6)
    data = images(count=32, batch=16, seed=7)
    result = lesion_study(model, data, input_size=32, draws=2, seed=11, name="cifar-resnet20")
    n = 9
    assert len(result.blocks) == len(result.single) == n and all(result.skippable)
    assert len(result.removed_k) == n and all(len(e) == 2 for e in result.removed_k)
    names = result.blocks
    singles = lesion_errors(model, data, [frozenset([i]) for i in range(n)])
    assert result.single == singles
    x, target = all_images(data), torch.cat([t for _, t in data.batches])
    with torch.inference_mode(), lesioned(model, names):
        everything = 100.0 * int((model(x).argmax(1) != target).sum()) / len(x)
    assert result.removed_k[-1] == [pytest.approx(everything)] * 2
    again = lesion_study(model, data, input_size=32, draws=2, seed=11)
    assert again.removed_k == result.removed_k  # seeded
    assert result.path_lengths == [math.comb(n, k) for k in range(n + 1)]


def test_random_lesions_are_seeded_nested_random_orders():
    draws = random_lesions(range(10), 3, seed=1)
    assert draws == random_lesions(range(10), 3, seed=1)
    assert draws != random_lesions(range(10), 3, seed=2)
    for draw in draws:
        assert [len(s) for s in draw] == list(range(1, 11))
        assert all(a < b for a, b in zip(draw, draw[1:], strict=False))  # nested
    assert len({draw[0] for draw in draws}) > 1  # not the same order every time


def test_path_lengths_are_binomial():
    counts = path_length_counts(54)  # ResNet-110
    assert sum(counts) == 2**54 and counts[27] == math.comb(54, 27) and counts[0] == 1
    assert path_length_counts(2, plain=3) == [0, 0, 0, 1, 2, 1]
