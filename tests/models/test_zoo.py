"""The zoo: exact parameter counts, typed outputs, stages, original module names."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sskd.models import ModelOutput, ZooNet, build_model, list_models, model_entry

# Backbone + fc with 100 classes: SSKD.md §4.4 (equal to the counts CRD publishes).
CIFAR_PARAMS = {
    "resnet8": 83_892, "resnet14": 181_108, "resnet20": 278_324, "resnet32": 472_756,
    "resnet44": 667_188, "resnet56": 861_620, "resnet110": 1_736_564,
    "resnet8x4": 1_233_540, "resnet32x4": 7_433_860, "resnet14x05": 47_340,
    "resnet20x05": 71_756, "resnet20x0375": 41_194, "wrn_16_1": 180_916, "wrn_16_2": 703_284,
    "wrn_40_1": 569_780, "wrn_40_2": 2_255_156, "vgg8": 3_965_028, "vgg11": 9_277_284,
    "vgg13": 9_462_180, "vgg16": 14_774_436, "vgg19": 20_086_692, "MobileNetV2": 812_836,
    "ShuffleV1": 949_258, "ShuffleV2": 1_355_528, "ResNet50": 23_705_252,
}
# torchvision's published counts with 1000 classes.
IMAGENET_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                   "mobilenet_v2": 3_504_872, "shufflenet_v2": 2_278_604}

# feats (C, H) at 32×32 and the pooled dim D: SSKD.md §4.2, BASELINES.md §1.1.
CIFAR_SHAPES = {
    "resnet20": ([(16, 32), (16, 32), (32, 16), (64, 8)], 64),
    "resnet8x4": ([(32, 32), (64, 32), (128, 16), (256, 8)], 256),
    "wrn_40_1": ([(16, 32), (16, 32), (32, 16), (64, 8)], 64),
    "wrn_16_2": ([(16, 32), (32, 32), (64, 16), (128, 8)], 128),
    "vgg13": ([(64, 32), (128, 16), (256, 8), (512, 4), (512, 4)], 512),
    "MobileNetV2": ([(16, 16), (12, 16), (16, 8), (48, 4), (160, 2)], 1280),
    "ShuffleV1": ([(24, 32), (240, 16), (480, 8), (960, 4)], 960),
    "ShuffleV2": ([(24, 32), (116, 16), (232, 8), (464, 4)], 1024),
    "ResNet50": ([(64, 32), (256, 32), (512, 16), (1024, 8), (2048, 4)], 2048),
}
IMAGENET_SHAPES = {
    "resnet18": ([(64, 56), (64, 56), (128, 28), (256, 14), (512, 7)], 512),
    "resnet34": ([(64, 56), (64, 56), (128, 28), (256, 14), (512, 7)], 512),
    "resnet50": ([(64, 56), (256, 56), (512, 28), (1024, 14), (2048, 7)], 2048),
    "mobilenet_v2": ([(16, 112), (24, 56), (32, 28), (96, 14), (1280, 7)], 1280),
    "shufflenet_v2": ([(24, 56), (116, 28), (232, 14), (464, 7), (1024, 7)], 1024),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_lists_the_whole_zoo():
    assert set(CIFAR_PARAMS) | set(IMAGENET_PARAMS) <= set(list_models())


@pytest.mark.parametrize("name", sorted(CIFAR_PARAMS))
def test_cifar_parameter_counts_match_the_benchmark(name):
    assert n_params(build_model(name, num_classes=100)) == CIFAR_PARAMS[name]


@pytest.mark.parametrize("name", sorted(IMAGENET_PARAMS))
def test_imagenet_parameter_counts_match_torchvision(name):
    assert n_params(build_model(name, num_classes=1000)) == IMAGENET_PARAMS[name]


@pytest.mark.parametrize("name", list_models())
def test_every_model_returns_the_typed_output(name):
    size = model_entry(name).input_size
    model = build_model(name, num_classes=7).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = model(x)
        out_pre = model(x, preact=True)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 7)
    assert out.preact_feats is None
    assert out.pooled.ndim == 2 and out.pooled.shape[0] == 2
    assert all(f.ndim == 4 and f.shape[0] == 2 for f in out.feats)
    assert len(out_pre.preact_feats) == len(out.feats)
    for f, p in zip(out.feats, out_pre.preact_feats):
        assert f.shape == p.shape
    torch.testing.assert_close(out_pre.logits, out.logits)
    classifier = model.get_classifier() if isinstance(model, ZooNet) else None
    if classifier is not None:
        torch.testing.assert_close(classifier(out.pooled), out.logits)


@pytest.mark.parametrize("name,table", list(CIFAR_SHAPES.items()) + list(IMAGENET_SHAPES.items()))
def test_feature_shapes(name, table):
    shapes, dim = table
    size = model_entry(name).input_size
    with torch.no_grad():
        out = build_model(name, num_classes=10).eval()(torch.randn(1, 3, size, size))
    assert [(f.shape[1], f.shape[2]) for f in out.feats] == shapes
    assert out.pooled.shape == (1, dim)


def test_mobilenetv2_stem_stride_matches_each_codebase():
    """Benchmark (SSKD) stem stride 2; HSSAKD stride 1: same parameters, taps 2× larger."""
    s1 = build_model("MobileNetV2", num_classes=100, stem_stride=1).eval()
    assert n_params(s1) == CIFAR_PARAMS["MobileNetV2"]
    with torch.no_grad():
        out = s1(torch.randn(1, 3, 32, 32))
    assert [(f.shape[1], f.shape[2]) for f in out.feats[1:]] == [(12, 32), (16, 16), (48, 8), (160, 4)]


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", "vgg8", "MobileNetV2", "ShuffleV1",
                                  "ShuffleV2", "ResNet50"])
def test_stages_recompose_the_forward(name):
    model = build_model(name, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
        h = x
        for stage, f in zip(model.stages, out.feats):
            h = stage(h)
            torch.testing.assert_close(h, f)
        torch.testing.assert_close(model.head(h), out.pooled)
    assert model.feat_channels == [f.shape[1] for f in out.feats]
    assert model.embed_dim == out.pooled.shape[1]


@pytest.mark.parametrize("name", ["resnet8", "ShuffleV1", "ResNet50", "vgg8"])
def test_post_activation_is_relu_of_preact(name):
    model = build_model(name, num_classes=10).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32), preact=True)
    for f, p in zip(out.feats, out.preact_feats):
        torch.testing.assert_close(f, F.relu(p))
    assert torch.equal(out.preact_feats[0], out.feats[0])
    for p in out.preact_feats[1:]:
        assert (p < 0).any()


def test_shufflev2_preact_is_concat_before_shuffle():
    model = build_model("ShuffleV2", num_classes=10).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32), preact=True)
    f, p = out.feats[1], out.preact_feats[1]
    c = f.shape[1]
    unshuffled = f.view(2, c // 2, 2, *f.shape[2:]).transpose(1, 2).reshape_as(f)
    torch.testing.assert_close(unshuffled, F.relu(p))


def test_wrn_preact_uses_the_next_batch_norm_without_touching_its_statistics():
    model = build_model("wrn_16_1", num_classes=10)
    twin = copy.deepcopy(model)
    x = torch.randn(4, 3, 32, 32)
    model.train()
    twin.train()
    out = model(x, preact=True)
    twin(x)
    for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
        assert torch.equal(a, b)
    expected = F.batch_norm(out.feats[3], None, None, model.bn1.weight, model.bn1.bias, True)
    torch.testing.assert_close(out.preact_feats[3], expected)
    model.eval()
    with torch.no_grad():
        out = model(x, preact=True)
    torch.testing.assert_close(out.preact_feats[1], model.block2.layer[0].bn1(out.feats[1]))


@pytest.mark.parametrize("name,keys", [
    ("resnet8x4", ["conv1.weight", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight", "fc.weight"]),
    ("wrn_40_2", ["conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.convShortcut.weight", "bn1.running_mean", "fc.bias"]),
    ("vgg13", ["block0.0.weight", "block0.1.running_var", "block4.3.weight", "classifier.weight"]),
    ("MobileNetV2", ["conv1.0.weight", "blocks.0.0.conv.0.weight", "conv2.1.weight", "classifier.0.weight"]),
    ("ShuffleV1", ["conv1.weight", "layer1.0.conv1.weight", "layer3.3.bn3.bias", "linear.weight"]),
    ("ShuffleV2", ["layer1.0.conv5.weight", "layer1.1.conv3.weight", "conv2.weight", "linear.weight"]),
    ("ResNet50", ["layer1.0.shortcut.0.weight", "layer4.2.conv3.weight", "linear.weight"]),
])
def test_state_dict_keeps_the_original_names_once(name, keys):
    model = build_model(name, num_classes=100)
    sd = model.state_dict()
    for key in keys:
        assert key in sd
    assert len(sd) == len(list(model.named_parameters())) + len(list(model.named_buffers()))


def test_deepcopy_gives_an_independent_network():
    model = build_model("resnet8", num_classes=10).eval()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.fc.weight.zero_()
        twin.fc.bias.fill_(1.0)
        out = twin(torch.randn(2, 3, 32, 32))
        orig = model(torch.randn(2, 3, 32, 32))
    assert torch.equal(out.logits, torch.ones(2, 10))
    assert not torch.equal(orig.logits, torch.ones(2, 10))


def test_initialisation_follows_the_original_code():
    torch.manual_seed(0)
    vgg = build_model("vgg13", num_classes=100)
    assert torch.all(vgg.classifier.bias == 0)
    assert abs(vgg.classifier.weight.std().item() - 0.01) < 0.001
    conv = vgg.block4[0]
    expected = (2.0 / (9 * conv.out_channels)) ** 0.5
    assert abs(conv.weight.std().item() - expected) / expected < 0.05
    assert torch.all(conv.bias == 0)
    wrn = build_model("wrn_40_2", num_classes=100)
    assert torch.all(wrn.fc.bias == 0) and wrn.fc.weight.abs().max() > 0
    resnet = build_model("resnet32x4", num_classes=100)
    w = resnet.layer3[0].conv2.weight
    expected = (2.0 / (9 * 256)) ** 0.5
    assert abs(w.std().item() - expected) / expected < 0.05
    assert not torch.all(resnet.fc.bias == 0)  # PyTorch's default Linear init


def test_default_class_counts():
    assert build_model("resnet8").get_classifier().out_features == 100
    assert build_model("resnet18").fc.out_features == 1000


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ValueError, match="resnet8x4") as err:
        build_model("resnet8x5")
    assert "wrn_40_2" in str(err.value)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("resnet8", num_classes=0)


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", "vgg8", "MobileNetV2", "ShuffleV1", "ShuffleV2"])
def test_channels_last_gives_the_same_answer(name):
    model = build_model(name, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, preact=True)
        out = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last), preact=True)
    torch.testing.assert_close(out.logits, ref.logits, rtol=1e-4, atol=1e-5)
    for a, b in zip(out.preact_feats, ref.preact_feats):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_vgg_pools_between_blocks_3_and_4_only_for_64px_input():
    model = build_model("vgg8", num_classes=10).eval()
    with torch.no_grad():
        small = model(torch.randn(1, 3, 32, 32))
        large = model(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in small.feats] == [32, 16, 8, 4, 4]
    assert [f.shape[-1] for f in large.feats] == [64, 32, 16, 8, 4]


def conv_linear_macs(model: nn.Module, size: int = 32) -> int:
    """Multiply-accumulates of convolutions and linear layers, counted as HSSAKD.md §2.5 does."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += output[0].numel() * module.in_channels // module.groups * k
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, size, size))
    for h in handles:
        h.remove()
    return total[0]


def test_mobilenetv2_macs_of_each_stem():
    """HSSAKD.md §2.5 reports 25.7M MACs for its MobileNetV2: the stride-1 stem."""
    assert round(conv_linear_macs(build_model("MobileNetV2", stem_stride=1)) / 1e6, 1) == 25.7
    assert round(conv_linear_macs(build_model("MobileNetV2")) / 1e6, 1) == 6.5
    assert round(conv_linear_macs(build_model("wrn_40_2")) / 1e6, 1) == 327.6
