"""The zoo against the paper's tables, mmpretrain's counts and torchvision's outputs."""

import pytest
import torch
import torchvision
from torch import nn

from resnet_studio.core.errors import ModelNameError
from resnet_studio.core.models import (
    ZeroPadShortcut,
    create_model,
    forward_intermediates,
    intermediate_names,
    model_info,
    model_names,
    response_layer_names,
)

EXACT_PARAMS = {
    # Table 1 nets with torchvision's layout (1000 classes)
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    # the paper's original bottleneck: same parameters, other FLOPs
    "resnet50-v1": 25_557_032,
    "resnet101-v1": 44_549_160,
    "resnet152-v1": 60_192_808,
    # mmpretrain / timm deep-stem variants
    "resnet50-v1c": 25_576_264,
    "resnet101-v1c": 44_568_392,
    "resnet152-v1c": 60_212_040,
    "resnet50-v1d": 25_576_264,
    "resnet101-v1d": 44_568_392,
    "resnet152-v1d": 60_212_040,
    # mmpretrain ResNet_CIFAR, 10 classes
    "resnet18-cifar": 11_173_962,
    "resnet34-cifar": 21_282_122,
    "resnet50-cifar": 23_520_842,
    "resnet101-cifar": 42_512_970,
    "resnet152-cifar": 58_156_618,
    # Table 6 (section 4.2), option A
    "cifar-resnet20": 269_722,
    "cifar-resnet32": 464_154,
    "cifar-resnet44": 658_586,
    "cifar-resnet56": 853_018,
    "cifar-resnet110": 1_727_962,
    "cifar-resnet1202": 19_421_274,
}


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("name", "params"), EXACT_PARAMS.items())
def test_model_info_gives_exact_parameter_counts(name, params):
    assert model_info(name).params == params


@pytest.mark.parametrize("name", ["resnet50", "resnet18-cifar", "cifar-resnet56", "resnet101-v1d"])
def test_built_model_has_the_counted_parameters(name):
    assert count(create_model(name)) == EXACT_PARAMS[name]


def test_option_b_adds_exactly_two_projections_to_resnet20():
    # 16->32 and 32->64 1x1 convs with their BN: 512 + 64 + 2048 + 128
    assert model_info("cifar-resnet20", shortcut="B").params == 269_722 + 2_752


def test_option_c_projects_every_shortcut():
    model = create_model("cifar-resnet20", shortcut="C")
    assert all(isinstance(block.downsample, nn.Sequential) for block in model.blocks())


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_cifar_plain_net_has_the_parameters_of_option_a(depth):
    assert model_info(f"cifar-plain{depth}").params == model_info(f"cifar-resnet{depth}").params


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_plain_net_is_the_resnet_without_projections(depth):
    assert model_info(f"plain{depth}").params == model_info(f"resnet{depth}", shortcut="A").params
    plain = create_model(f"plain{depth}")
    assert not any(block.has_shortcut for block in plain.blocks())


def test_plain_net_output_ignores_the_identity():
    torch.manual_seed(0)
    plain = create_model("cifar-plain20").eval()
    block = plain.layer1[0]
    x = torch.randn(2, 16, 8, 8)
    expected = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))))
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_torchvision_weights_load_strictly_and_give_the_same_logits(depth):
    torch.manual_seed(depth)
    reference = getattr(torchvision.models, f"resnet{depth}")().eval()
    for module in reference.modules():  # non-trivial BN statistics, so they must match too
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    ours = create_model(f"resnet{depth}").eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "size", "classes"),
    [("resnet18", 64, 1000), ("resnet50-v1d", 64, 1000), ("resnet18-cifar", 32, 10),
     ("cifar-resnet20", 32, 10), ("cifar-plain32", 16, 10), ("plain50-v1c", 64, 1000)],
)
def test_forward_shapes(name, size, classes):
    model = create_model(name).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, classes)


def test_num_classes_changes_the_head():
    model = create_model("resnet50", num_classes=37)
    assert model.fc.out_features == 37
    assert model_info("resnet50", num_classes=37).params == 25_557_032 - 2049 * 963


def test_backward_reaches_every_parameter():
    model = create_model("cifar-resnet20", shortcut="B")
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_macs_match_torchvision_and_table_1():
    assert model_info("resnet50").gflops == pytest.approx(4.09, abs=0.005)  # torchvision's table
    assert model_info("resnet18").gflops == pytest.approx(1.81, abs=0.005)
    # Table 1 (the paper's v1 bottleneck): 3.8, 7.6, 11.3 x 10^9 FLOPs
    assert model_info("resnet50-v1").gflops == pytest.approx(3.8, rel=0.03)
    assert model_info("resnet101-v1").gflops == pytest.approx(7.6, rel=0.03)
    assert model_info("resnet152-v1").gflops == pytest.approx(11.3, rel=0.03)


def test_stage_table_follows_table_1():
    info = model_info("resnet50")
    assert [(s.name, s.output_size, s.blocks, s.channels) for s in info.stages] == [
        ("stem", 56, 0, 64), ("layer1", 56, 3, 256), ("layer2", 28, 4, 512),
        ("layer3", 14, 6, 1024), ("layer4", 7, 3, 2048), ("head", 1, 0, 1000),
    ]
    assert sum(s.params for s in info.stages) == info.params
    assert sum(s.macs for s in info.stages) == info.macs
    cifar = model_info("cifar-resnet56")
    assert [(s.output_size, s.blocks, s.channels) for s in cifar.stages[1:4]] == [
        (32, 9, 16), (16, 9, 32), (8, 9, 64),  # section 4.2: maps of 32, 16, 8
    ]


def test_v1_puts_the_stride_on_the_first_1x1():
    v1, v15 = create_model("resnet50-v1"), create_model("resnet50")
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)


def test_v1d_average_pools_before_the_projection():
    model = create_model("resnet50-v1d")
    assert isinstance(model.layer2[0].downsample[0], nn.AvgPool2d)
    assert isinstance(model.layer1[0].downsample[0], nn.Identity)  # placeholder at stride 1
    assert model.layer2[0].downsample[1].stride == (1, 1)
    assert "conv1.6.weight" in model.state_dict()  # timm's deep-stem keys


def test_option_a_pads_new_channels_evenly_on_both_sides():
    shortcut = ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(1, 16, 8, 8)
    out = shortcut(x)
    assert out.shape == (1, 32, 4, 4)
    torch.testing.assert_close(out[:, 8:24], x[:, :, ::2, ::2])
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0


def test_zero_init_residual_starts_each_block_as_identity():
    model = create_model("resnet50", zero_init_residual=True)
    assert all(block.bn3.weight.abs().sum() == 0 for block in model.blocks())


def test_residual_plus_identity_is_the_block_output_before_relu():
    torch.manual_seed(0)
    model = create_model("cifar-resnet20").eval()
    names = ["layer2.0.residual", "layer2.0.identity", "layer2.0.sum", "layer2.0"]
    _, out = forward_intermediates(model, torch.randn(2, 3, 32, 32), names)
    torch.testing.assert_close(out["layer2.0.residual"] + out["layer2.0.identity"], out["layer2.0.sum"])
    torch.testing.assert_close(torch.relu(out["layer2.0.sum"]), out["layer2.0"])
    assert out["layer2.0.identity"].shape == (2, 32, 16, 16)


def test_bn_response_is_recorded_before_the_in_place_relu():
    torch.manual_seed(0)
    model = create_model("resnet18").eval()
    _, out = forward_intermediates(model, torch.randn(1, 3, 64, 64), ["layer1.0.bn1"])
    assert (out["layer1.0.bn1"] < 0).any()  # a ReLU'd copy would have no negatives


def test_intermediate_names_cover_every_block_and_exist():
    model = create_model("resnet50")
    names = intermediate_names(model)
    modules = dict(model.named_modules())
    assert all(name in modules for name in names)
    assert "layer4.2.bn3" in names and "layer1.0.identity" in names
    plain = create_model("cifar-plain20")
    assert not any(name.endswith(".identity") for name in intermediate_names(plain))


def test_response_layers_are_the_3x3_layers_of_figure_7():
    assert len(response_layer_names(create_model("cifar-resnet20"))) == 19  # 6n+1 3x3 convs
    assert len(response_layer_names(create_model("resnet50"))) == 16  # one per bottleneck


def test_intermediates_reject_unknown_names_clearly():
    with pytest.raises(Exception, match="no layer named 'layer9'"):
        forward_intermediates(create_model("cifar-resnet20"), torch.randn(1, 3, 32, 32), ["layer9"])


def test_model_names_parse_and_include_every_family():
    names = model_names()
    for expected in ["resnet152", "resnet50-v1", "resnet18-v1d", "resnet34-cifar",
                     "cifar-resnet1202", "plain34", "cifar-plain56", "plain50-v1c"]:
        assert expected in names
    assert len(names) == len(set(names))
    for name in names:
        model_info(name)  # every listed name builds


@pytest.mark.parametrize(
    ("bad", "message"),
    [("resnet19", "depths"), ("cifar-resnet21", "6n\\+2"), ("vgg16", "unknown model"),
     ("resnet18-v1", "v1.5"), ("", "unknown model")],
)
def test_bad_names_say_what_is_allowed(bad, message):
    with pytest.raises(ModelNameError, match=message):
        create_model(bad)


def test_plain_nets_refuse_a_shortcut_option():
    with pytest.raises(ModelNameError, match="no shortcuts"):
        create_model("plain18", shortcut="B")


def test_any_6n_plus_2_depth_is_accepted():
    assert model_info("cifar-resnet14").depth == 14
    assert len(create_model("cifar-resnet14").layer1) == 2
