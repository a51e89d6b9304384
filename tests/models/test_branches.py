"""HSSAKD auxiliary branches: parameter counts (HSSAKD.md §2.5), layout (§2.2–2.3),
initialisation (§2.4), gradient flow and state-dict layout (§2.1)."""

import pytest
import torch
from torch import nn

from sskd.models import build_model, list_models, model_entry
from sskd.models.branches import (AuxBranches, AuxiliaryModel, AuxOutput, build_aux_model,
                                  build_branches, supported_branch_models)
from sskd.models.zoo import CIFAR_RESNETS, WRNS

# Aux-branch parameters (trainable, no BN running stats), in millions, as measured on the
# released code (HSSAKD.md §2.5): 100 classes (400 outputs) on CIFAR, 1000 (4000) on ImageNet.
SPEC_AUX_PARAMS_M = {
    "wrn_40_2": 5.769, "wrn_16_2": 1.928, "wrn_40_1": 1.484, "resnet56": 2.206,
    "resnet20": 0.763, "resnet32x4": 18.907, "resnet8x4": 3.557, "ResNet50": 76.977,
    "vgg13": 37.050, "MobileNetV2": 4.671, "ShuffleV1": 3.119, "ShuffleV2": 4.520,
    "resnet34": 76.47, "resnet18": 47.56,
}
IMAGENET = {"resnet18", "resnet34", "resnet50"}
MODEL_ARGS = {"MobileNetV2": {"stem_stride": 1}}  # HSSAKD's MobileNetV2 (§2.3)

# Tapped maps (C, H) at 32×32 (§2.3; ImageNet nets: at 64×64 instead of 224×224).
TAPS = {
    "resnet20": [(16, 32), (32, 16), (64, 8)],
    "resnet8x4": [(64, 32), (128, 16), (256, 8)],
    "wrn_16_2": [(32, 32), (64, 16), (128, 8)],
    "vgg8": [(64, 32), (128, 16), (256, 8), (512, 4)],
    "MobileNetV2": [(12, 32), (16, 16), (48, 8), (160, 4)],
    "ShuffleV1": [(240, 16), (480, 8), (960, 4)],
    "ShuffleV2": [(116, 16), (232, 8), (464, 4)],
    "ResNet50": [(256, 32), (512, 16), (1024, 8), (2048, 4)],
    "resnet18": [(64, 16), (128, 8), (256, 4), (512, 2)],
}


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """One intra-op thread. ``torch.set_flush_denormal`` (tests/conftest.py) sets the flag
    on the calling thread only, so OpenMP workers still meet denormals, which freshly
    initialised eval-mode ShuffleV2/MobileNetV2 branches produce (activations decay to
    ~1e-9): a 20 ms forward then takes seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def expected_branches(name: str) -> int:
    return 3 if name in CIFAR_RESNETS or name in WRNS or name in ("ShuffleV1", "ShuffleV2") else 4


def side(name: str) -> int:
    """Test input size: 64 for the ImageNet nets, 16 for ResNet50 (to keep it fast), else 32."""
    return 64 if name in IMAGENET else 16 if name == "ResNet50" else 32


def nominal_side(name: str) -> int:
    return 64 if name in IMAGENET else 32


@pytest.mark.parametrize("name", list(SPEC_AUX_PARAMS_M))
def test_parameter_counts_match_the_released_code(name):
    num_classes = 1000 if name in IMAGENET else 100
    backbone = build_model(name, num_classes=num_classes, **MODEL_ARGS.get(name, {}))
    branches = build_branches(name, backbone)
    digits = 2 if name in IMAGENET else 3
    assert round(n_params(branches) / 1e6, digits) == SPEC_AUX_PARAMS_M[name]
    assert branches.num_classes == num_classes
    assert all(b.fc.out_features == 4 * num_classes for b in branches.branches)


def test_every_cifar_network_and_the_imagenet_resnets_are_supported():
    cifar = [n for n in list_models() if model_entry(n).input_size == 32]
    assert set(cifar) <= set(supported_branch_models())
    assert {"resnet18", "resnet34", "resnet50"} <= set(supported_branch_models())
    assert set(supported_branch_models()) <= set(list_models())


@pytest.mark.parametrize("name", list(TAPS))
def test_output_shapes_and_taps(name):
    torch.manual_seed(0)
    model = build_aux_model(name, num_classes=10, **MODEL_ARGS.get(name, {})).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, side(name), side(name)))
    assert isinstance(out, AuxOutput)
    assert out.logits.shape == (2, 10)
    assert model.branches.num_branches == expected_branches(name) == len(out.aux_logits)
    assert [a.shape for a in out.aux_logits] == [(2, 40)] * expected_branches(name)
    assert all(torch.isfinite(a).all() for a in out.aux_logits)
    taps = model.branches.taps(out.backbone)
    scale = nominal_side(name) // side(name)
    assert [(t.shape[1], t.shape[2]) for t in taps] == [(c, h // scale) for c, h in TAPS[name]]
    assert model.branches.tap_channels == [c for c, _ in TAPS[name]]


@pytest.mark.parametrize("name", ["resnet14x05", "wrn_16_1", "vgg11", "ShuffleV2", "MobileNetV2"])
def test_other_zoo_members_and_settings(name):
    """Narrow/other-depth variants, the benchmark's stride-2 MobileNetV2 stem, and a
    non-default label space (N = 7 classes × M = 2 rotations)."""
    model = build_aux_model(name, num_classes=7, num_rotations=2).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert [a.shape for a in out.aux_logits] == [(2, 14)] * expected_branches(name)
    assert model.branches.num_rotations == 2


def test_every_supported_cifar_name_builds_its_branch_count():
    for name in supported_branch_models():
        if name in IMAGENET or name in ("vgg16", "vgg19", "ResNet50", "resnet32x4", "resnet110"):
            continue  # large ones are covered above or differ only in depth
        backbone = build_model(name)
        branches = build_branches(name, backbone)
        assert branches.num_branches == expected_branches(name), name
        assert branches.tap_channels == [backbone.feat_channels[i] for i in branches.tap_indices]


def test_taps_follow_the_released_code():
    """WRN taps the raw block outputs (our feats, not the BN'd preact_feats); VGG taps
    block0, block1, block2 and block4 after ReLU; MobileNetV2 block groups 1, 2, 4, 6."""
    x = torch.randn(2, 3, 32, 32)
    wrn = build_aux_model("wrn_16_1").eval()
    with torch.no_grad():
        out = wrn.backbone(x, preact=True)
    taps = wrn.branches.taps(out)
    assert not wrn.branches.needs_preact
    for t, f, p in zip(taps, out.feats[1:], out.preact_feats[1:]):
        assert t is f and not torch.equal(t, p)
    assert build_branches("vgg8", build_model("vgg8")).tap_indices == [0, 1, 2, 4]
    mbv2 = build_model("MobileNetV2", stem_stride=1).eval()
    with torch.no_grad():
        out = mbv2(x)
        h = mbv2.conv1(x)
        ends = {}
        for i, group in enumerate(mbv2.blocks):
            h = group(h)
            ends[i] = h
    taps = build_branches("MobileNetV2", mbv2).taps(out)
    for t, i in zip(taps, (1, 2, 4, 6)):
        torch.testing.assert_close(t, ends[i])


def test_last_branch_is_a_stride1_copy_of_the_last_stage():
    """§2.2: same width, in = out channels, no down-sampling; the deepest tap keeps its size."""
    rn = build_branches("resnet8x4", build_model("resnet8x4"))
    last = rn.branches[-1].body
    assert isinstance(last, nn.Sequential) and len(last) == 1  # n = 1 block
    assert last[0].conv1.in_channels == last[0].conv2.out_channels == 256
    assert last[0].stride == 1 and last[0].downsample is None
    wrn = build_branches("wrn_40_2", build_model("wrn_40_2"))
    blocks = list(wrn.branches[-1].body.layer)
    assert len(blocks) == 6 and all(b.equal_in_out and b.conv1.stride == (1, 1) for b in blocks)
    s2 = build_branches("ShuffleV2", build_model("ShuffleV2")).branches[-1].body
    assert s2[0].conv1.stride == (1, 1) and s2[0].conv1.in_channels == 464 and len(s2) == 4
    m = build_branches("MobileNetV2", build_model("MobileNetV2", stem_stride=1)).branches[-1]
    first = m.body[0][0]
    assert first.conv[0].in_channels == 160 and first.conv[3].stride == (1, 1)
    assert [len(g) for g in m.body] == [3, 1] and m.head[0].out_channels == 1280
    for name in ("ResNet50", "resnet18"):
        x = torch.randn(1, 3, side(name), side(name))
        model = build_aux_model(name, num_classes=5).eval()
        with torch.no_grad():
            out = model(x)
            tap = model.branches.taps(out.backbone)[-1]
            assert model.branches.branches[-1].body(tap).shape == tap.shape


def _grad_norms(model: AuxiliaryModel, detach: bool) -> tuple[float, float]:
    model.zero_grad(set_to_none=True)
    out = model(torch.randn(2, 3, 32, 32), detach=detach)
    sum(a.square().mean() for a in out.aux_logits).backward()
    backbone = sum(float(p.grad.abs().sum()) for p in model.backbone.parameters() if p.grad is not None)
    branches = sum(float(p.grad.abs().sum()) for p in model.branches.parameters() if p.grad is not None)
    return backbone, branches


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1"])
def test_detach_blocks_the_gradient_into_the_backbone(name):
    torch.manual_seed(0)
    model = build_aux_model(name, num_classes=10).train()
    frozen_backbone, branches = _grad_norms(model, detach=True)
    assert frozen_backbone == 0.0 and branches > 0.0
    assert all(p.grad is None for p in model.backbone.parameters())
    backbone, branches = _grad_norms(model, detach=False)
    assert backbone > 0.0 and branches > 0.0
    assert model.backbone.conv1.weight.grad is not None


@pytest.mark.parametrize("name", ["resnet8", "vgg8", "ShuffleV1", "resnet18"])
def test_branches_share_nothing_and_are_initialised_independently(name):
    torch.manual_seed(0)
    model = build_aux_model(name, num_classes=10)
    owners = [model.backbone, *model.branches.branches]
    ptrs = [{p.data_ptr() for p in m.parameters()} | {b.data_ptr() for b in m.buffers() if b.numel()}
            for m in owners]
    for i in range(len(ptrs)):
        for j in range(i + 1, len(ptrs)):
            assert not ptrs[i] & ptrs[j]
    total = sum(len(list(m.parameters())) for m in owners)
    assert len({p.data_ptr() for p in model.parameters()}) == total
    # The two deepest branches both copy the last stage: same shapes, different random weights.
    def conv_weights(branch):
        return {tuple(m.weight.shape): m.weight for m in branch.body.modules() if isinstance(m, nn.Conv2d)}
    last, previous = (conv_weights(b) for b in model.branches.branches[-2:])
    common = set(last) & set(previous)
    assert common
    assert not any(torch.equal(last[s], previous[s]) for s in common)


def test_initialisation_follows_the_released_code():
    """§2.4: fan-out normal convs and zero Linear bias for CIFAR ResNet / WRN / ShuffleV1,
    N(0, 0.01) Linear for MobileNetV2, Kaiming fan-out for ResNet50, PyTorch defaults for
    ShuffleV2 and (by the released code's dead-code bug) VGG."""
    torch.manual_seed(0)
    rn = build_branches("resnet32x4", build_model("resnet32x4"))
    conv = rn.branches[0].body[1][0].conv1
    expected = (2.0 / (9 * conv.out_channels)) ** 0.5
    assert abs(conv.weight.std().item() - expected) / expected < 0.05
    assert all(torch.all(b.fc.bias == 0) for b in rn.branches)
    wrn = build_branches("wrn_16_2", build_model("wrn_16_2"))
    assert all(torch.all(b.fc.bias == 0) and torch.all(b.head[0].weight == 1) for b in wrn.branches)
    mb = build_branches("MobileNetV2", build_model("MobileNetV2", stem_stride=1))
    fc = mb.branches[0].fc
    assert abs(fc.weight.std().item() - 0.01) < 0.001 and torch.all(fc.bias == 0)
    vgg = build_branches("vgg8", build_model("vgg8"))
    conv = vgg.branches[-1].body[0][0]
    assert conv.bias is not None and not torch.all(conv.bias == 0)  # PyTorch default
    bound = 1 / (9 * conv.in_channels) ** 0.5  # kaiming_uniform(a=√5) bound
    assert conv.weight.abs().max().item() <= bound + 1e-6
    assert not torch.all(vgg.branches[0].fc.bias == 0)
    s2 = build_branches("ShuffleV2", build_model("ShuffleV2"))
    assert not torch.all(s2.branches[0].fc.bias == 0)
    s1 = build_branches("ShuffleV1", build_model("ShuffleV1"))
    assert all(torch.all(b.fc.bias == 0) for b in s1.branches)


@pytest.mark.parametrize("name", ["resnet8", "ShuffleV2", "resnet18"])
def test_state_dict_layout_and_backbone_round_trip(name):
    torch.manual_seed(0)
    model = build_aux_model(name, num_classes=10).eval()
    sd = model.state_dict()
    assert all(k.startswith(("backbone.", "branches.")) for k in sd)
    assert any(k.startswith("branches.branches.0.") for k in sd)
    backbone_sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    plain = build_model(name, num_classes=10).eval()
    assert list(backbone_sd) == list(plain.state_dict())
    plain.load_state_dict(backbone_sd, strict=True)
    x = torch.randn(2, 3, side(name), side(name))
    with torch.no_grad():
        torch.testing.assert_close(plain(x).logits, model(x).logits)
    twin = build_aux_model(name, num_classes=10).eval()
    twin.load_state_dict(sd, strict=True)
    with torch.no_grad():
        a, b = model(x), twin(x)
    for u, v in zip(a.aux_logits, b.aux_logits):
        torch.testing.assert_close(u, v)


def test_unsupported_names_and_mismatched_backbones():
    with pytest.raises(ValueError, match=r"mobilenet_v2.*supported: .*resnet8x4.*wrn_40_2.*ShuffleV2"):
        build_branches("mobilenet_v2", build_model("resnet8"))
    with pytest.raises(ValueError, match="no_such_net"):
        build_aux_model("no_such_net")
    with pytest.raises(TypeError, match="WideResNet"):
        build_branches("wrn_16_1", build_model("resnet8"))
    branches = build_branches("resnet8", build_model("resnet8"))
    with pytest.raises(ValueError, match="expects"):
        branches(build_model("wrn_16_2")(torch.randn(2, 3, 32, 32)))
    with pytest.raises(ValueError, match="num_classes"):
        build_branches("resnet8", build_model("resnet8"), num_classes=0)


def test_auxbranches_is_a_module_list_container():
    branches = build_branches("resnet8", build_model("resnet8"), num_classes=10)
    assert isinstance(branches, AuxBranches) and isinstance(branches.branches, nn.ModuleList)
    assert branches.num_classes == 10 and branches.num_rotations == 4
    assert branches.needs_preact is False


# Backbone + aux MACs (convolutions and linear layers, one 32×32 image), HSSAKD.md §2.5:
# checks the branches' spatial layout (strides, pools), which parameter counts cannot see.
SPEC_TOTAL_MACS_M = {"wrn_40_2": 768.2, "resnet8x4": 429.0, "resnet20": 94.4, "vgg13": 1003,
                     "MobileNetV2": 86.6, "ShuffleV1": 87.1, "ShuffleV2": 117.0}


def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total[0] += output[0].numel() * k
        else:
            total[0] += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


@pytest.mark.parametrize("name", list(SPEC_TOTAL_MACS_M))
def test_macs_with_branches_match_the_released_code(name):
    model = build_aux_model(name, num_classes=100, **MODEL_ARGS.get(name, {})).eval()
    macs = count_macs(model, torch.randn(1, 3, 32, 32)) / 1e6
    spec = SPEC_TOTAL_MACS_M[name]
    assert round(macs, 0 if spec >= 1000 else 1) == spec


def test_resnet18_at_imagenet_resolution():
    model = build_aux_model("resnet18").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    taps = model.branches.taps(out.backbone)
    assert [tuple(t.shape[1:]) for t in taps] == [(64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
    assert [a.shape for a in out.aux_logits] == [(1, 4000)] * 4
    assert round(count_macs(model, torch.randn(1, 3, 224, 224)) / 1e9, 2) == 4.75
