"""The pre-activation nets of He et al. 2016b against hand counts, the paper's Tables
and timm's resnetv2 layout.

timm is not a dependency, so its layout is rebuilt here from timm/models/resnetv2.py
(PreActBasic, PreActBottleneck, DownsampleConv(preact=True), ResNetV2.forward): a
state_dict with timm's key names and shapes, and a functional forward that reads only
those tensors. Loading that file into our model must give the same logits.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from resnet_studio.core.catalog import compose_name, is_plain, model_names, parse_name, twin
from resnet_studio.core.errors import ModelNameError, WeightsError
from resnet_studio.core.inspect.figure7 import response_std
from resnet_studio.core.models import (
    create_model,
    forward_intermediates,
    intermediate_names,
    model_info,
    response_layer_names,
)
from resnet_studio.core.weights import load_weights
from resnet_studio.core.weights.formats import detect_format, guess_model_name

# ------------------------------------------------------------------ parameter counts


def hand_count(stem: int, widths, layers, *, bottleneck: bool, project: bool, classes: int) -> int:
    """Parameters of a pre-act net, summed from the architecture: each block BN(in) +
    its convs + the BNs in front of its later convs, a 1x1 projection (no BN) where the
    shape changes when `project`, then the final BN and the classifier."""
    total, prev = stem, widths[0]
    for index, (width, blocks) in enumerate(zip(widths, layers, strict=True)):
        out = 4 * width if bottleneck else width
        for j in range(blocks):
            stride = 2 if index > 0 and j == 0 else 1
            if bottleneck:
                total += 2 * prev + prev * width + 2 * width + 9 * width * width + 2 * width + width * out
            else:
                total += 2 * prev + 9 * prev * width + 2 * width + 9 * width * out
            if project and (stride != 1 or prev != out):
                total += prev * out
            prev = out
    return total + 2 * prev + prev * classes + classes


CIFAR_STEM, IMAGENET_STEM = 3 * 16 * 9, 3 * 64 * 49
HAND = {
    # He et al. 2016b, Table 3 / Table 4; option A for the basic net, B for the bottlenecks
    "cifar-resnet110-preact": hand_count(CIFAR_STEM, (16, 32, 64), (18,) * 3, bottleneck=False,
                                         project=False, classes=10),
    "cifar-resnet164-bottleneck-preact": hand_count(CIFAR_STEM, (16, 32, 64), (18,) * 3,
                                                    bottleneck=True, project=True, classes=10),
    "cifar-resnet1001-bottleneck-preact": hand_count(CIFAR_STEM, (16, 32, 64), (111,) * 3,
                                                     bottleneck=True, project=True, classes=10),
    "resnet18-preact": hand_count(IMAGENET_STEM, (64, 128, 256, 512), (2, 2, 2, 2),
                                  bottleneck=False, project=True, classes=1000),
    "resnet34-preact": hand_count(IMAGENET_STEM, (64, 128, 256, 512), (3, 4, 6, 3),
                                  bottleneck=False, project=True, classes=1000),
    "resnet50-preact": hand_count(IMAGENET_STEM, (64, 128, 256, 512), (3, 4, 6, 3),
                                  bottleneck=True, project=True, classes=1000),
    "resnet101-preact": hand_count(IMAGENET_STEM, (64, 128, 256, 512), (3, 4, 23, 3),
                                   bottleneck=True, project=True, classes=1000),
    "resnet152-preact": hand_count(IMAGENET_STEM, (64, 128, 256, 512), (3, 8, 36, 3),
                                   bottleneck=True, project=True, classes=1000),
}  # fmt: skip
EXACT = {
    "cifar-resnet110-preact": 1_727_962,  # Table 3: 1.7M
    "cifar-resnet164-bottleneck-preact": 1_703_258,  # Table 3: 1.7M
    "cifar-resnet1001-bottleneck-preact": 10_327_706,  # Table 4: 10.2M (conv + fc only, below)
    "resnet18-preact": 11_687_720,
    "resnet34-preact": 21_795_880,
    "resnet50-preact": 25_549_352,  # timm's resnetv2_50: 25.5M
    "resnet101-preact": 44_541_480,
    "resnet152-preact": 60_185_128,
}


@pytest.mark.parametrize("name", EXACT)
def test_exact_parameter_counts_equal_the_hand_count(name):
    assert HAND[name] == EXACT[name]
    assert model_info(name).params == EXACT[name]
    assert sum(p.numel() for p in create_model(name).parameters()) == EXACT[name]


@pytest.mark.parametrize(
    ("name", "paper"),
    [("cifar-resnet110-preact", 1.7), ("cifar-resnet164-bottleneck-preact", 1.7),
     ("cifar-resnet1001-bottleneck-preact", 10.2)],
)  # fmt: skip
def test_the_papers_counts_are_the_conv_and_fc_weights(name, paper):
    """2016b's 1.7M / 1.7M / 10.2M are the convolution and classifier weights: with the
    BN parameters, ResNet-1001 has 10.33M (rounding to 10.3, not 10.2)."""
    with torch.device("meta"):
        model = create_model(name)
    weights = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
                  for p in m.parameters())  # fmt: skip
    assert round(weights / 1e6, 1) == paper
    assert round(EXACT[name] / 1e6, 1) == (10.3 if paper == 10.2 else paper)


def test_the_post_activation_bottleneck_twins_and_plain_nets():
    assert model_info("cifar-resnet164-bottleneck").params == 1_704_154
    assert model_info("cifar-resnet1001-bottleneck").params == 10_328_602
    # a plain pre-act net: the same layers without the projections
    assert model_info("cifar-plain164-bottleneck-preact").params == EXACT[
        "cifar-resnet164-bottleneck-preact"] - (16 * 64 + 64 * 128 + 128 * 256)  # fmt: skip
    assert model_info("cifar-plain110-preact").params == EXACT["cifar-resnet110-preact"]  # option A


# ------------------------------------------------------------------ names


def test_names_are_listed_compose_and_have_twins():
    names = set(model_names())
    assert {"resnet50-preact", "cifar-resnet110-preact", "cifar-resnet164-bottleneck-preact",
            "cifar-resnet1001-bottleneck-preact", "plain18-preact"} <= names  # fmt: skip
    spec = parse_name("cifar-resnet164-bottleneck-preact")
    assert (spec.family, spec.block, spec.layers, spec.preact, spec.default_shortcut) == (
        "cifar-bottleneck", "bottleneck", (18, 18, 18), True, "B")  # fmt: skip
    assert compose_name("cifar-bottleneck", 1001, variant="preact") == "cifar-resnet1001-bottleneck-preact"
    assert twin("cifar-resnet164-bottleneck-preact") == "cifar-plain164-bottleneck-preact"
    assert twin("plain50-preact") == "resnet50-preact"
    assert is_plain("cifar-plain110-preact (A)") and not is_plain("resnet50-preact")
    assert parse_name("cifar-resnet56-bottleneck").layers == (6, 6, 6)  # 9n+2 with n = 6


def test_bottleneck_depths_must_be_9n_plus_2():
    with pytest.raises(ModelNameError, match="9n\\+2"):
        parse_name("cifar-resnet110-bottleneck-preact".replace("110", "111"))
    with pytest.raises(ModelNameError, match="unknown model"):
        parse_name("cifar-resnet110-preact-bottleneck")  # the suffixes come in one order


# ------------------------------------------------------------------ blocks


def test_a_pre_act_block_ends_at_the_addition():
    torch.manual_seed(0)
    model = create_model("cifar-resnet20-preact").eval()
    names = ["layer2.0.residual", "layer2.0.identity", "layer2.0.sum", "layer2.0"]
    _, out = forward_intermediates(model, torch.randn(2, 3, 32, 32), names)
    torch.testing.assert_close(out["layer2.0.residual"] + out["layer2.0.identity"], out["layer2.0"])
    assert (out["layer2.0"] < 0).any()  # no ReLU after the addition
    assert model.layer2[0].output_act is None


def test_zero_init_residual_makes_every_identity_block_pass_its_input():
    torch.manual_seed(0)
    model = create_model("resnet50-preact", zero_init_residual=True).eval()
    x = torch.randn(1, 256, 8, 8)
    torch.testing.assert_close(model.layer1[1](x), x)
    assert all(block.conv3.weight.abs().sum() == 0 for block in model.blocks())


def test_figure7_reads_one_response_per_3x3_conv():
    model = create_model("cifar-resnet110-preact")
    names = response_layer_names(model)
    assert len(names) == 1 + 2 * 54  # the stem and two 3x3 per block
    assert names[:3] == ["layer1.0.bn1", "layer1.0.bn2", "layer1.0.residual"]
    bottleneck = create_model("cifar-resnet164-bottleneck-preact")
    assert len(response_layer_names(bottleneck)) == 1 + 54  # one 3x3 per bottleneck
    layers, std, _ = response_std(create_model("cifar-resnet20-preact"), torch.randn(4, 3, 32, 32))
    assert len(layers) == 19 and (std > 0).all()
    all_names = intermediate_names(model)
    assert all_names[-1] == "final_bn" and "layer3.17.bn2" in all_names


def test_a_pre_act_net_trains_a_few_iterations(tmp_path):
    from resnet_studio.core.recipes import get_recipe
    from resnet_studio.core.runs import open_run
    from resnet_studio.core.train import train

    recipe = get_recipe("quick").with_overrides(
        image_size=8, batch_size=32, val_size=256, iterations=60, milestones=(50,), eval_every=30,
        log_every=5, checkpoint_every=30, seed=3, lr=0.05,
    )  # fmt: skip
    [result] = train(["cifar-resnet11-bottleneck-preact"], recipe, runs_dir=tmp_path)
    records = open_run(result.name, tmp_path).read_metrics()
    assert result.status == "finished"
    assert sum(r["loss"] for r in records[-3:]) < sum(r["loss"] for r in records[:3])


# ------------------------------------------------------------------ timm's resnetv2


def timm_resnetv2_state_dict(layers, *, basic: bool, classes: int, seed: int = 0) -> dict:
    """Random weights under timm's key names and shapes (BatchNormAct2d norms)."""
    gen = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def conv(key: str, out: int, inp: int, k: int) -> None:
        sd[key] = torch.randn(out, inp, k, k, generator=gen) * math.sqrt(2 / (inp * k * k))

    def norm(prefix: str, c: int) -> None:
        sd[f"{prefix}.weight"] = torch.rand(c, generator=gen) + 0.5
        sd[f"{prefix}.bias"] = torch.randn(c, generator=gen) * 0.1
        sd[f"{prefix}.running_mean"] = torch.randn(c, generator=gen) * 0.1
        sd[f"{prefix}.running_var"] = torch.rand(c, generator=gen) + 0.5
        sd[f"{prefix}.num_batches_tracked"] = torch.tensor(7)

    conv("stem.conv.weight", 64, 3, 7)
    prev = 64
    widths = (64, 128, 256, 512) if basic else (256, 512, 1024, 2048)
    for i, (depth, c) in enumerate(zip(layers, widths, strict=True)):
        for j in range(depth):
            p = f"stages.{i}.blocks.{j}"
            stride = 2 if i > 0 and j == 0 else 1
            norm(f"{p}.norm1", prev)
            if basic:  # PreActBasic: projection only where the shape changes
                conv(f"{p}.conv1.weight", c, prev, 3)
                norm(f"{p}.norm2", c)
                conv(f"{p}.conv2.weight", c, c, 3)
                project = stride != 1 or prev != c
            else:  # PreActBottleneck: the first block of each stage projects
                mid = c // 4
                conv(f"{p}.conv1.weight", mid, prev, 1)
                norm(f"{p}.norm2", mid)
                conv(f"{p}.conv2.weight", mid, mid, 3)
                norm(f"{p}.norm3", mid)
                conv(f"{p}.conv3.weight", c, mid, 1)
                project = j == 0
            if project:
                conv(f"{p}.downsample.conv.weight", c, prev, 1)
            prev = c
    norm("norm", prev)
    sd["head.fc.weight"] = torch.randn(classes, prev, 1, 1, generator=gen) * 0.05
    sd["head.fc.bias"] = torch.randn(classes, generator=gen) * 0.1
    return sd


def timm_resnetv2_forward(sd: dict, layers, x: torch.Tensor, *, basic: bool) -> torch.Tensor:
    """ResNetV2.forward in eval mode, from timm's source, reading only `sd`."""

    def act(prefix: str, t: torch.Tensor) -> torch.Tensor:
        return F.relu(F.batch_norm(t, sd[f"{prefix}.running_mean"], sd[f"{prefix}.running_var"],
                                   sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], False, 0.0, 1e-5))  # fmt: skip

    x = F.max_pool2d(F.conv2d(x, sd["stem.conv.weight"], stride=2, padding=3), 3, 2, 1)
    for i, depth in enumerate(layers):
        for j in range(depth):
            p, stride = f"stages.{i}.blocks.{j}", (2 if i > 0 and j == 0 else 1)
            pre = act(f"{p}.norm1", x)
            proj = sd.get(f"{p}.downsample.conv.weight")
            shortcut = x if proj is None else F.conv2d(pre, proj, stride=stride)
            if basic:
                out = F.conv2d(pre, sd[f"{p}.conv1.weight"], stride=stride, padding=1)
                out = F.conv2d(act(f"{p}.norm2", out), sd[f"{p}.conv2.weight"], padding=1)
            else:  # the stride on the 3x3, as timm
                out = F.conv2d(pre, sd[f"{p}.conv1.weight"])
                out = F.conv2d(act(f"{p}.norm2", out), sd[f"{p}.conv2.weight"], stride=stride, padding=1)
                out = F.conv2d(act(f"{p}.norm3", out), sd[f"{p}.conv3.weight"])
            x = out + shortcut
    x = act("norm", x).mean((2, 3), keepdim=True)
    return F.conv2d(x, sd["head.fc.weight"], sd["head.fc.bias"]).flatten(1)


@pytest.mark.parametrize(
    ("name", "layers", "basic"),
    [("resnet18-preact", (2, 2, 2, 2), True), ("resnet50-preact", (3, 4, 6, 3), False)],
)
def test_timm_resnetv2_weights_load_and_give_timms_logits(tmp_path, name, layers, basic):
    sd = timm_resnetv2_state_dict(layers, basic=basic, classes=7)
    path = tmp_path / "pytorch_model.bin"
    torch.save(sd, path)
    assert detect_format(sd) == "timm-resnetv2"
    result = load_weights(None, path)  # the network is read off the keys
    assert (result.format, result.model_name, result.matched_keys) == ("timm-resnetv2", name, len(sd))
    assert result.preprocessing.mean == (0.5, 0.5, 0.5)  # timm's resnetv2 configs
    params = sum(v.numel() for k, v in sd.items() if not k.endswith(("running_mean", "running_var",
                                                                      "num_batches_tracked")))  # fmt: skip
    features = 512 if basic else 2048
    assert params == HAND[name] - (1000 - 7) * (features + 1)  # the same net with a 7-class head
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = result.model.eval()(x)
    torch.testing.assert_close(ours, timm_resnetv2_forward(sd, layers, x, basic=basic), atol=1e-4, rtol=1e-4)


def test_our_pre_act_state_dict_names_its_network():
    for name in ("resnet101-preact", "cifar-resnet110-preact", "cifar-resnet164-bottleneck-preact",
                 "cifar-resnet164-bottleneck"):  # fmt: skip
        with torch.device("meta"):
            sd = create_model(name).state_dict()
        assert guess_model_name(sd) == name


def test_bit_and_deep_stem_resnetv2_are_refused_with_the_reason(tmp_path):
    sd = timm_resnetv2_state_dict((2, 2, 2, 2), basic=True, classes=3)
    bit = {k: v for k, v in sd.items() if not k.endswith(("running_mean", "running_var",
                                                          "num_batches_tracked"))}  # fmt: skip
    torch.save(bit, tmp_path / "bit.pth")
    with pytest.raises(WeightsError, match="GroupNorm"):
        load_weights("resnet18-preact", tmp_path / "bit.pth")
    deep = {("stem.conv1.weight" if k == "stem.conv.weight" else k): v for k, v in sd.items()}
    torch.save(deep, tmp_path / "deep.pth")
    with pytest.raises(WeightsError, match="deep stem"):
        load_weights("resnet18-preact", tmp_path / "deep.pth")


@pytest.mark.parametrize("name", ["cifar-resnet20-bottleneck", "resnet50-v1", "resnet50-preact"])
def test_weights_load_into_a_model_built_for_them(tmp_path, name):
    torch.manual_seed(0)
    source, target = create_model(name, num_classes=3).eval(), create_model(name, num_classes=3)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    result = load_weights(target, tmp_path / "w.pth")  # the name is read off the model
    assert result.model_name == name
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(result.model.eval()(x), source(x))
