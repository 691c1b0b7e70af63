"""Inspection: layer tree, activations, residual views, Grad-CAM, Figure 7 and its plot."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_studio.core.catalog import CIFAR_PREPROCESSING
from resnet_studio.core.errors import StudioError
from resnet_studio.core.inspect import (
    FeatureMaps,
    activations,
    apply_colormap,
    colormap_lut,
    figure7,
    figure7_png,
    grad_cam,
    layer_tree,
    overlay,
    render_grid,
    residual_profile,
    residual_view,
    response_std,
)
from resnet_studio.core.models import create_model, response_layer_names
from resnet_studio.core.predict import Predictor


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    names = ("cifar-resnet20", "cifar-plain20", "resnet18", "resnet50-v1d")
    return {name: create_model(name).eval() for name in names}


@pytest.fixture
def one_thread():
    """Tiny nets train faster on one thread, and far faster when the CPU is shared
    (OpenMP threads spin against other processes)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def image(size, seed=0):
    return torch.randn(3, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------- layer tree


def test_layer_tree_lists_stem_stages_blocks_and_taps_with_shapes(nets):
    tree = layer_tree(nets["cifar-resnet20"], input_size=32)
    assert [n.kind for n in tree] == ["stem", "stage", "stage", "stage", "head"]
    assert [n.name for n in tree[1].children] == ["layer1.0", "layer1.1", "layer1.2"]
    block = tree[2].children[0]  # layer2.0: downsampling block with option A padding
    names = [n.name for n in block.children]
    assert names == ["layer2.0.conv1", "layer2.0.bn1", "layer2.0.act1", "layer2.0.conv2", "layer2.0.bn2",
                     "layer2.0.residual", "layer2.0.downsample", "layer2.0.identity", "layer2.0.sum",
                     "layer2.0.act2"]
    assert block.shape == (32, 16, 16) and tree[3].shape == (64, 8, 8)
    assert {n.kind for root in tree for n in root.walk()} >= {"conv", "bn", "relu", "tap", "block"}


def test_layer_tree_of_plain_and_deep_stem_nets(nets):
    plain = layer_tree(nets["cifar-plain20"])
    block_children = [n.name for n in plain[1].children[0].children]
    assert "layer1.0.identity" not in block_children and "layer1.0.sum" in block_children
    deep = layer_tree(nets["resnet50-v1d"], input_size=64)
    assert [n.name for n in deep[0].children][:3] == ["conv1.0", "conv1.1", "conv1.2"]
    shortcut = next(n for n in deep[2].children[0].children if n.kind == "shortcut")
    assert [n.kind for n in shortcut.children] == ["pool", "conv", "bn"]  # avg_down
    # every readable node really has a feature map
    for root in deep:
        for node in root.walk():
            if node.readable and node.name:
                assert node.shape is not None, node.name


# ------------------------------------------------------------------- activations


@pytest.mark.parametrize(
    ("net", "size", "layer", "shape"),
    [
        ("resnet18", 64, "stem", (64, 16, 16)),
        ("resnet18", 64, "layer2", (128, 8, 8)),
        ("resnet18", 64, "layer3.1.bn1", (256, 4, 4)),
        ("cifar-resnet20", 32, "layer1", (16, 32, 32)),
        ("cifar-resnet20", 32, "layer2.0.identity", (32, 16, 16)),
        ("cifar-resnet20", 32, "layer3.2.sum", (64, 8, 8)),
        ("resnet50-v1d", 64, "conv1.3", (32, 32, 32)),
        ("resnet50-v1d", 64, "layer1.0.bn3", (256, 16, 16)),
        ("resnet50-v1d", 64, "layer4", (2048, 2, 2)),
    ],
)
def test_activation_shapes(nets, net, size, layer, shape):
    maps = activations(nets[net], image(size), layer, max_maps=64)
    k = min(64, shape[0])
    assert maps.shape == shape and maps.maps.shape == (k, *shape[1:])
    assert maps.maps.dtype == np.float32 and isinstance(maps.maps, np.ndarray)
    assert maps.channels.tolist() == list(range(k))
    assert maps.logits.shape == (1000 if net != "cifar-resnet20" else 10,)
    np.testing.assert_allclose(maps.mean, maps.maps.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_activations_by_mean_picks_the_strongest_channels_and_match_a_plain_forward(nets):
    model = nets["cifar-resnet20"]
    x = image(32)
    maps = activations(model, x, "layer3", max_maps=5, order="mean")
    with torch.no_grad():
        full = model.layer3(model.layer2(model.layer1(model.stem(model.relu(model.bn1(model.conv1(x[None])))))))[0]
        logits = model(x[None])[0]
    means = full.mean(dim=(1, 2))
    assert maps.channels.tolist() == torch.argsort(means, descending=True)[:5].tolist()
    np.testing.assert_allclose(maps.maps, full[maps.channels].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(maps.logits, logits.numpy(), rtol=1e-5, atol=1e-5)
    # the top-k the views show comes from these logits, through the one softmax/top-k
    probabilities = torch.softmax(logits, 0)
    top = Predictor(model, CIFAR_PREPROCESSING).scores(maps.logits, 3)[0]
    assert [s.index for s in top] == probabilities.topk(3).indices.tolist()
    assert top[0].probability == pytest.approx(float(probabilities.max()), rel=1e-5)
    assert top[0].name == f"class {top[0].index}"  # no class names: shown by index


def test_activations_restore_training_mode_and_reject_bad_input(nets):
    model = nets["cifar-resnet20"].train()
    activations(model, image(32), "layer1")
    assert model.training
    model.eval()
    with pytest.raises(StudioError, match="no layer named"):
        activations(model, image(32), "layer9")
    with pytest.raises(StudioError, match="order"):
        activations(model, image(32), "layer1", order="random")
    with pytest.raises(StudioError, match=r"\[3, H, W\]"):
        activations(model, torch.zeros(1, 32, 32), "layer1")


def test_render_grid_tiles_colours_and_scales():
    maps = np.stack([np.zeros((4, 4)), np.ones((4, 4)), np.full((4, 4), 2.0)]).astype(np.float32)
    grid = render_grid(maps, shared_scale=True, min_cell=8, gap=2)
    assert grid.dtype == np.uint8 and grid.shape == (2 * (8 + 2) + 2, 2 * (8 + 2) + 2, 3)
    lut = colormap_lut("viridis")
    assert (grid[2, 2] == lut[0]).all() and (grid[2, 12] == lut[128]).all()  # 1 of 0..2
    assert (grid[12, 2] == lut[255]).all()
    own = render_grid(maps, shared_scale=False, min_cell=8, gap=2)
    assert (own[2, 12] == lut[0]).all()  # a constant map shows as the low colour
    fm = FeatureMaps("x", maps, np.arange(3), maps.min((1, 2)), maps.max((1, 2)), maps.mean((1, 2)), 3,
                     np.zeros(10, np.float32))
    assert (render_grid(fm, min_cell=8, gap=2) == grid).all()


def test_colormaps_run_from_dark_to_light():
    for name in ("viridis", "inferno"):
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
        luminance = lut @ np.array([0.299, 0.587, 0.114])
        assert luminance[0] < luminance[128] < luminance[255]
    assert apply_colormap(np.array([[0.0, 1.0, 7.0, np.nan]]), "gray").tolist() == [
        [[0, 0, 0], [255, 255, 255], [255, 255, 255], [0, 0, 0]]
    ]
    with pytest.raises(StudioError, match="colormap"):
        colormap_lut("rainbow")


# ------------------------------------------------------------------ residual view


@pytest.mark.parametrize(("net", "size", "block"), [("cifar-resnet20", 32, "layer2.0"),
                                                    ("cifar-resnet20", 32, "layer1.1"),
                                                    ("resnet50-v1d", 64, "layer3.0")])
def test_residual_plus_identity_is_the_sum_and_relu_of_it_the_output(nets, net, size, block):
    view = residual_view(nets[net], image(size), block)
    np.testing.assert_allclose(view.residual + view.identity, view.sum, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.maximum(view.sum, 0), view.output, rtol=1e-6, atol=1e-6)
    assert view.ratio == pytest.approx(np.linalg.norm(view.residual) / np.linalg.norm(view.identity), rel=1e-4)
    assert view.residual_magnitude.mean_abs == pytest.approx(np.abs(view.residual).mean(), rel=1e-4)
    assert view.to_dict()["ratio"] == view.ratio


def test_residual_view_of_a_plain_net_explains_the_missing_identity(nets):
    view = residual_view(nets["cifar-plain20"], image(32), "layer1.0")
    assert view.identity is None and view.ratio is None and "no shortcut" in view.note
    np.testing.assert_allclose(view.residual, view.sum)
    with pytest.raises(StudioError, match="not a block"):
        residual_view(nets["cifar-resnet20"], image(32), "layer2")


def test_residual_profile_matches_the_views(nets):
    model, x = nets["cifar-resnet20"], image(32)
    profile = residual_profile(model, x)
    assert len(profile.blocks) == 9
    assert profile.ratio[3] == pytest.approx(residual_view(model, x, "layer2.0").ratio, rel=1e-5)
    assert np.isnan(residual_profile(nets["cifar-plain20"], x).ratio).all()


# ----------------------------------------------------------------------- Grad-CAM

COLOURS = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]])


def squares(n, generator, size=32, side=8):
    """Noise images with one saturated square whose colour is the class: the only
    place that carries class evidence is the square."""
    x = torch.rand(n, 3, size, size, generator=generator) * 0.6
    y = torch.randint(0, len(COLOURS), (n,), generator=generator)
    corner = torch.randint(0, size - side + 1, (n, 2), generator=generator)
    for i in range(n):
        r, c = corner[i].tolist()
        x[i, :, r:r + side, c:c + side] = COLOURS[y[i]].view(3, 1, 1)
    return (x - 0.5) / 0.25, y, corner


def test_grad_cam_peaks_on_the_object_that_carries_the_class(one_thread):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = create_model("cifar-resnet8", num_classes=len(COLOURS))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(40):  # ~5 s on one core; the task is learnt in ~25 steps
        x, y, _ = squares(32, g)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
    x, y, corner = squares(20, g)
    hits = 0
    for i in range(len(x)):
        cam = grad_cam(model, x[i])
        assert cam.heatmap.shape == (32, 32) and cam.heatmap.min() >= 0 and cam.heatmap.max() <= 1
        r, c = np.unravel_index(cam.heatmap.argmax(), cam.heatmap.shape)
        top, left = corner[i].tolist()
        hits += top <= r < top + 8 and left <= c < left + 8
    assert hits >= 16, f"Grad-CAM peaked on the square in only {hits}/20 images"
    assert all(p.grad is None for p in model.parameters())  # no gradients left behind


def test_grad_cam_defaults_to_the_top_class_and_checks_layers(nets):
    model, x = nets["resnet18"], image(64)
    cam = grad_cam(model, x)
    with torch.no_grad():
        logits = model(x[None])[0]
    assert cam.layer == "layer4" and cam.class_index == int(logits.argmax())
    assert cam.score == pytest.approx(float(logits.max()), rel=1e-4)
    assert cam.heatmap.shape == (64, 64) and cam.cam.shape == (2, 2)
    other = grad_cam(model, x, layer="layer3.1", class_index=7)
    assert other.class_index == 7 and other.cam.shape == (4, 4)
    with pytest.raises(StudioError, match="Grad-CAM needs"):
        grad_cam(model, x, layer="layer3.1.bn1")
    with pytest.raises(StudioError, match="out of range"):
        grad_cam(model, x, class_index=1000)


def test_grad_cam_at_the_last_stage_is_cam_with_the_fc_weights(nets):
    """With global average pooling and one linear layer, Grad-CAM's alpha_k is
    w_ck / (h w): the heatmap is CAM (Zhou et al. 2016), computed here by hand."""
    model, x = nets["cifar-resnet20"], image(32, seed=3)
    cam = grad_cam(model, x, class_index=2)
    with torch.no_grad():
        features = model.forward_features(x[None])[0]
        by_hand = F.relu(torch.einsum("c,chw->hw", model.fc.weight[2] / 64, features))
    np.testing.assert_allclose(cam.cam, by_hand.numpy(), rtol=1e-4, atol=1e-6)


def test_overlay_blends_by_opacity():
    img = np.full((10, 12, 3), 100, np.uint8)
    heat = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    assert (overlay(img, heat, opacity=0.0) == img).all()
    full = overlay(img, heat, opacity=1.0, colormap="gray")
    assert full.shape == img.shape and full[0, 0, 0] < full[-1, -1, 0]
    with pytest.raises(StudioError, match="opacity"):
        overlay(img, heat, opacity=2)


# ---------------------------------------------------------------------- Figure 7


def test_figure7_std_equals_a_hand_computation_with_forward_hooks(nets):
    model = nets["cifar-resnet20"]
    batch = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    names = response_layer_names(model)
    captured = {}
    hooks = [model.get_submodule(n).register_forward_hook(
        lambda m, i, o, n=n: captured.__setitem__(n, o.detach().clone())) for n in names]
    model.eval()
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    expected = np.array([captured[n].double().std(correction=0).item() for n in names])

    stats = figure7({"r20": model}, batch, chunk_size=4)["r20"]  # two uneven chunks
    assert stats.layers == names and len(names) == 19  # 2 * 9 blocks + the stem
    np.testing.assert_allclose(stats.std, expected, rtol=1e-9)
    np.testing.assert_allclose(stats.sorted_std, np.sort(expected)[::-1])
    assert [stats.std[names.index(n)] for n in stats.sorted_layers] == list(stats.sorted_std)
    assert stats.images == 6
    _, whole, _ = response_std(model, batch, chunk_size=64)
    np.testing.assert_allclose(whole, expected, rtol=1e-9)


def test_figure7_uses_eval_mode_and_per_model_batches(nets):
    model = nets["cifar-plain20"].train()
    bn = model.layer1[0].bn1
    before = bn.running_mean.clone()
    stats = figure7({"p20": model, "r18": nets["resnet18"]},
                    {"p20": torch.randn(2, 3, 32, 32), "r18": torch.randn(2, 3, 64, 64)})
    assert model.training and torch.equal(bn.running_mean, before)  # nothing updated
    assert len(stats["r18"].layers) == 16  # the 7x7 stem is not a 3x3 layer
    model.eval()


def test_figure7_png_draws_both_panels_and_every_model(nets):
    stats = figure7({"plain": nets["cifar-plain20"], "resnet": nets["cifar-resnet20"]}, torch.randn(2, 3, 32, 32))
    img = figure7_png(stats, width=600, height=500)
    assert img.shape == (500, 600, 3) and img.dtype == np.uint8
    colours = {tuple(px) for px in img.reshape(-1, 3)}
    assert (31, 119, 180) in colours and (255, 127, 14) in colours  # one line colour per model
