"""The original codebases' checkpoints load into our networks and HSSAKD branches.

Each layout is written here as its code saves it (read from that code; nothing of it is
imported): files of random weights in that layout are loaded through our code and the
outputs compared with those of a module tree that carries the original names.

- SSKD, ``teacher.py``: ``{'epoch', 'state_dict': net, 'acc'}``; its stage-2 teacher
  (``student.py``): a bare ``{backbone.*, proj_head.*}``; its MobileNetV2 calls the
  classifier ``classifier`` (ours, like RepDistiller's, ``classifier.0``).
- CRD/RepDistiller, ``train_teacher.py``: ``{'epoch', 'model', 'accuracy', 'optimizer'}``
  (``ckpt_epoch_240.pth``); ``<model>_last.pth`` adds ``opt`` (an argparse Namespace).
- HSSAKD, ``train_teacher_cifar.py``/``train_student_cifar.py``: ``{'net': backbone.* +
  auxiliary_classifier.*, 'acc', 'epoch', 'optimizer'}``; the backbones its README links
  (re-saved CRD/SSKD teachers): ``{'state_dict': net}``; ImageNet scripts: ``{'net': ...}``
  from a DistributedDataParallel run; torchvision weights: a bare state dict.
"""

import argparse
import pickle

import pytest
import torch
import torch.nn.functional as F
import torchvision
from distill_helpers import method_context
from safetensors.torch import save_file
from torch import nn
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock
from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck

from sskd.engine.checkpoint import CheckpointError, load_pretrained, load_state_checked, read_branch_weights
from sskd.methods.teacher import frozen_teacher, frozen_teacher_branches
from sskd.models import build_model
from sskd.models.adapter import from_torchvision_resnet
from sskd.models.branches import build_branches
from sskd.models.mobilenetv2 import InvertedResidual, conv_bn_relu
from sskd.models.original_branches import original_branch_modules
from sskd.models.resnet_bottleneck import make_bottleneck_layer
from sskd.models.resnet_cifar import make_basic_layer
from sskd.models.shufflenet import ShuffleV1Unit, ShuffleV2DownUnit, ShuffleV2Unit
from sskd.models.vgg import VGG_CONFIGS, make_vgg_block
from sskd.models.wrn import NetworkBlock


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- HSSAKD's naming
# ``auxiliary_classifier`` of each ``*_aux`` network, from its ``Auxiliary_Classifier``:
# ``block_extractor{l}`` (an nn.Sequential), ``fc{l}`` and, for WRN, ``bn{l}``, for
# MobileNetV2, ``conv2_{l}``. Blocks inside keep the backbone's block names, which are ours.


def seq(*modules):
    return nn.Sequential(*modules)


def their_cifar_resnet(w, n):  # resnet.py: stages of basic blocks, stride 2, 2 | 2 | 1
    return ([seq(make_basic_layer(w[1], w[2], n, 2), make_basic_layer(w[2], w[3], n, 2)),
             seq(make_basic_layer(w[2], w[3], n, 2)), seq(make_basic_layer(w[3], w[3], n, 1))], w[3], None)


def their_wrn(k, n):  # wrn.py: NetworkBlocks, then bn{l} + ReLU
    c = [16 * k, 32 * k, 64 * k]
    extractors = [seq(NetworkBlock(n, c[0], c[1], 2), NetworkBlock(n, c[1], c[2], 2)),
                  seq(NetworkBlock(n, c[1], c[2], 2)), seq(NetworkBlock(n, c[2], c[2], 1))]
    return extractors, c[2], ("bn{}", [nn.BatchNorm2d(c[2]) for _ in range(3)], lambda m, y: F.relu(m(y)))


def their_vgg(config):  # vgg.py: one flat Sequential of pools, blocks and ReLUs per branch
    cfg = VGG_CONFIGS[config]

    def blk(i, cin):
        return make_vgg_block(cfg[i], cin)

    pool, relu, gap = (lambda: nn.MaxPool2d(2, 2)), nn.ReLU, (lambda: nn.AdaptiveAvgPool2d(1))
    return ([seq(pool(), blk(1, cfg[0][-1]), relu(), pool(), blk(2, cfg[1][-1]), relu(), pool(),
                 blk(3, cfg[2][-1]), relu(), blk(4, cfg[3][-1]), relu(), gap()),
             seq(pool(), blk(2, cfg[1][-1]), relu(), pool(), blk(3, cfg[2][-1]), relu(),
                 blk(4, cfg[3][-1]), relu(), gap()),
             seq(pool(), blk(3, cfg[2][-1]), relu(), blk(4, cfg[3][-1]), relu(), gap()),
             seq(blk(3, cfg[4][-1]), relu(), blk(4, cfg[3][-1]), relu(), gap())], 512, None)


def their_mobilenetv2():  # mobilenetv2.py: groups of inverted residuals (t, c, n, s), width 0.5
    def groups(cin, setting):
        out = []
        for c, n, s in setting:
            blocks = []
            for stride in [s] + [1] * (n - 1):
                blocks.append(InvertedResidual(cin, c // 2, stride, 6))
                cin = c // 2
            out.append(seq(*blocks))
        return seq(*out)

    extractors = [groups(12, [(32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)]),
                  groups(16, [(64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1)]),
                  groups(48, [(160, 3, 2), (320, 1, 1)]),
                  groups(160, [(160, 3, 1), (320, 1, 1)])]
    return extractors, 1280, ("conv2_{}", [conv_bn_relu(160, 1280, 1, 1) for _ in range(4)], lambda m, y: m(y))


def their_shufflev1():  # ShuffleNetv1.py: units; a stride-2 first unit concatenates its input
    def layer(cin, out, n, down=True):
        units = []
        for i in range(n):
            first = i == 0 and down
            units.append(ShuffleV1Unit(cin, out - (cin if first else 0), 2 if first else 1, 3))
            cin = out
        return seq(*units)

    return ([seq(layer(240, 480, 8), layer(480, 960, 4)), seq(layer(480, 960, 4)),
             seq(layer(960, 960, 4, down=False))], 960, None)


def their_shufflev2():  # ShuffleNetv2.py: stages, then the 1×1 conv, BN, ReLU in the same Sequential
    def layer(cin, out, n, stride=2):
        return seq(ShuffleV2DownUnit(cin, out, stride), *[ShuffleV2Unit(out) for _ in range(n)])

    def head():
        return [nn.Conv2d(464, 1024, 1, bias=False), nn.BatchNorm2d(1024), nn.ReLU()]

    return ([seq(layer(116, 232, 7), layer(232, 464, 3), *head()), seq(layer(232, 464, 3), *head()),
             seq(layer(464, 464, 3, stride=1), *head())], 1024, None)


def their_cifar_resnet50(n=(3, 4, 6, 3)):  # resnetv2.py: bottleneck stages (planes × 4)
    def layer(cin, planes, count, stride):
        return make_bottleneck_layer(cin, planes, count, stride)

    return ([seq(layer(256, 128, n[1], 2), layer(512, 256, n[2], 2), layer(1024, 512, n[3], 2)),
             seq(layer(512, 256, n[2], 2), layer(1024, 512, n[3], 2)), seq(layer(1024, 512, n[3], 2)),
             seq(layer(2048, 512, n[3], 1))], 2048, None)


def their_torchvision_resnet(block, n):  # resnet_imagenet.py: torchvision's _make_layer
    e = block.expansion

    def layer(cin, planes, count, stride):
        down = None
        if stride != 1 or cin != planes * e:
            down = seq(nn.Conv2d(cin, planes * e, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * e))
        return seq(block(cin, planes, stride, down), *[block(planes * e, planes) for _ in range(count - 1)])

    return ([seq(layer(64 * e, 128, n[1], 2), layer(128 * e, 256, n[2], 2), layer(256 * e, 512, n[3], 2)),
             seq(layer(128 * e, 256, n[2], 2), layer(256 * e, 512, n[3], 2)), seq(layer(256 * e, 512, n[3], 2)),
             seq(layer(512 * e, 512, n[3], 1))], 512 * e, None)


# zoo name → (their branches, the backbone's feats they tap, our builder arguments)
THEIRS = {
    "resnet8": (lambda: their_cifar_resnet((16, 16, 32, 64), 1), [1, 2, 3], {}),
    "resnet20": (lambda: their_cifar_resnet((16, 16, 32, 64), 3), [1, 2, 3], {}),
    "resnet8x4": (lambda: their_cifar_resnet((32, 64, 128, 256), 1), [1, 2, 3], {}),
    "resnet32x4": (lambda: their_cifar_resnet((32, 64, 128, 256), 5), [1, 2, 3], {}),
    "resnet56": (lambda: their_cifar_resnet((16, 16, 32, 64), 9), [1, 2, 3], {}),
    "wrn_16_2": (lambda: their_wrn(2, 2), [1, 2, 3], {}),
    "wrn_40_2": (lambda: their_wrn(2, 6), [1, 2, 3], {}),
    "wrn_40_1": (lambda: their_wrn(1, 6), [1, 2, 3], {}),
    "vgg8": (lambda: their_vgg("S"), [0, 1, 2, 4], {}),
    "vgg13": (lambda: their_vgg("B"), [0, 1, 2, 4], {}),
    "MobileNetV2": (their_mobilenetv2, [1, 2, 3, 4], {"stem_stride": 1}),
    "ShuffleV1": (their_shufflev1, [1, 2, 3], {}),
    "ShuffleV2": (their_shufflev2, [1, 2, 3], {}),
    "ResNet50": (their_cifar_resnet50, [1, 2, 3, 4], {}),
    "resnet18": (lambda: their_torchvision_resnet(TorchvisionBasicBlock, (2, 2, 2, 2)), [1, 2, 3, 4], {}),
    "resnet34": (lambda: their_torchvision_resnet(TorchvisionBasicBlock, (3, 4, 6, 3)), [1, 2, 3, 4], {}),
    "resnet50": (lambda: their_torchvision_resnet(TorchvisionBottleneck, (3, 4, 6, 3)), [1, 2, 3, 4], {}),
}
# SSKD's and HSSAKD's MobileNetV2 name its classifier without RepDistiller's Sequential.
THEIR_BACKBONE_NAMES = {"MobileNetV2": {"classifier.0.weight": "classifier.weight",
                                        "classifier.0.bias": "classifier.bias"}}


class TheirAux(nn.Module):
    """HSSAKD's ``*_Auxiliary`` as its checkpoints name it: ``backbone`` and
    ``auxiliary_classifier.{block_extractor, fc, bn | conv2_}{l}``; forward as its code does."""

    def __init__(self, backbone, branches, taps, num_classes):
        super().__init__()
        extractors, dim, head = branches
        self.backbone, self.taps, self.head = backbone, taps, head
        self.auxiliary_classifier = nn.Module()
        for l, extractor in enumerate(extractors, 1):
            setattr(self.auxiliary_classifier, f"block_extractor{l}", extractor)
            if head is not None:
                setattr(self.auxiliary_classifier, head[0].format(l), head[1][l - 1])
            setattr(self.auxiliary_classifier, f"fc{l}", nn.Linear(dim, 4 * num_classes))

    def forward(self, x):
        out = self.backbone(x)
        aux, logits = self.auxiliary_classifier, []
        for l, i in enumerate(self.taps, 1):
            y = getattr(aux, f"block_extractor{l}")(out.feats[i])
            if self.head is not None:
                name, _, apply = self.head
                y = apply(getattr(aux, name.format(l)), y)
            logits.append(getattr(aux, f"fc{l}")(F.adaptive_avg_pool2d(y, 1).flatten(1)))
        return out.logits, logits

    def original_state_dict(self, name):
        rename = {f"backbone.{k}": f"backbone.{v}" for k, v in THEIR_BACKBONE_NAMES.get(name, {}).items()}
        return {rename.get(k, k): v for k, v in self.state_dict().items()}


def randomise(module, seed=0):
    """Distinct random values everywhere (BN statistics too), so a misplaced tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            if t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5)
    return module.eval()


def their_model(name, num_classes=10, backbone=None):
    branches, taps, args = THEIRS[name]
    backbone = backbone if backbone is not None else build_model(name, num_classes=num_classes, **args)
    return TheirAux(backbone, branches(), taps, num_classes)


def load_ours(name, path, num_classes=10, backbone=None):
    backbone = backbone if backbone is not None else build_model(name, num_classes=num_classes, **THEIRS[name][2])
    load_pretrained(backbone, path, name)
    branches = build_branches(name, backbone, num_classes)
    load_state_checked(branches, read_branch_weights(path, branches), str(path), name)
    return backbone.eval(), branches.eval()


def assert_same_outputs(theirs, backbone, branches, side=32):
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, aux = theirs(x)
        out = backbone(x)
        ours = branches(out)
    torch.testing.assert_close(out.logits, logits)
    assert len(ours) == len(aux)
    for a, b in zip(ours, aux):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------- HSSAKD *_aux


@pytest.mark.parametrize("name, wrap", [("resnet8", "state_dict"), ("resnet20", "net"), ("wrn_16_2", "net"),
                                        ("vgg8", "net"), ("MobileNetV2", "state_dict"), ("ShuffleV1", "net"),
                                        ("ShuffleV2", "net")])
def test_released_cifar_aux_teachers_load_with_their_branches(tmp_path, name, wrap):
    torch.manual_seed(0)
    theirs = randomise(their_model(name))
    path = tmp_path / f"{name}_aux.pth.tar"
    torch.save({wrap: theirs.original_state_dict(name), "acc": 75.0, "epoch": 99,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.05, "params": [0, 1]}]}}, path)
    assert_same_outputs(theirs, *load_ours(name, path))


def shallow_torchvision_resnet(num_classes=10):
    """torchvision's ResNet with one block per stage: ResNet-18's layout, a quarter of it."""
    return from_torchvision_resnet(torchvision.models.ResNet(TorchvisionBasicBlock, [1, 1, 1, 1],
                                                             num_classes=num_classes))


def test_released_imagenet_aux_teacher_from_distributed_training_loads(tmp_path):
    torch.manual_seed(0)
    branches = their_torchvision_resnet(TorchvisionBasicBlock, (1, 1, 1, 1))
    theirs = randomise(TheirAux(shallow_torchvision_resnet(), branches, [1, 2, 3, 4], 10))
    path = tmp_path / "resnet34_imagenet_aux_best.pth.tar"
    torch.save({"net": {f"module.{k}": v for k, v in theirs.state_dict().items()}, "acc": 73.3, "epoch": 99}, path)
    backbone, ours = load_ours("resnet18", path, backbone=shallow_torchvision_resnet())
    assert_same_outputs(theirs, backbone, ours)


def test_an_hssakd_student_run_takes_the_released_teacher_file(tmp_path):
    torch.manual_seed(0)
    theirs = randomise(their_model("resnet8"))
    path = tmp_path / "resnet8_aux.pth.tar"
    torch.save({"net": theirs.state_dict(), "acc": 70.0, "epoch": 99}, path)
    context = method_context(path, {"method": "hssakd"})
    teacher = frozen_teacher(context)
    assert_same_outputs(theirs, teacher, frozen_teacher_branches(context, teacher))


@pytest.mark.parametrize("name", list(THEIRS))
def test_every_family_maps_onto_our_branches_key_for_key(name):
    """Every released layout (the large ones built on the meta device): after renaming, the
    keys and shapes are exactly those of our branches."""
    from sskd.models.original_branches import map_original_branches

    with torch.device("meta"):
        num_classes = 1000 if name in ("resnet18", "resnet34", "resnet50") else 100
        theirs = their_model(name, num_classes)
        branches = build_branches(name, theirs.backbone, num_classes)
    state = theirs.original_state_dict(name)
    mapped = map_original_branches(state, branches)
    own = branches.state_dict()
    assert set(mapped) == set(own)
    assert all(mapped[k].shape == own[k].shape for k in own)


@pytest.mark.parametrize("name, theirs, ours", [
    ("resnet8", "block_extractor1.1", "branches.0.body.1"),
    ("resnet8", "block_extractor3.0", "branches.2.body"),
    ("wrn_16_2", "bn2", "branches.1.head.0"),
    ("vgg8", "block_extractor1.7", "branches.0.body.2.1"),
    ("vgg8", "block_extractor1.9", "branches.0.body.2.3"),
    ("vgg8", "block_extractor4.2", "branches.3.body.2"),
    ("MobileNetV2", "block_extractor1.3", "branches.0.body.2.0"),
    ("MobileNetV2", "block_extractor4.1", "branches.3.body.1"),
    ("MobileNetV2", "conv2_2", "branches.1.head"),
    ("ShuffleV2", "block_extractor1.3", "branches.0.head.1"),
    ("ShuffleV2", "block_extractor2.1", "branches.1.head.0"),
    ("ResNet50", "fc4", "branches.3.fc"),
])
def test_their_module_names_and_ours(name, theirs, ours):
    with torch.device("meta"):
        branches = build_branches(name, build_model(name, num_classes=100))
    assert original_branch_modules(branches)[theirs] == ours


# --------------------------------------------------------------------------- backbones


def saved(tmp_path, name, obj, legacy=False):
    path = tmp_path / name
    if name.endswith(".safetensors"):
        save_file(obj, str(path))
    else:  # legacy: the pre-1.6 file format, in which the older released checkpoints are
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def logits_equal(a, b):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x).logits, b.eval()(x).logits)


@pytest.mark.parametrize("layout", ["sskd_teacher", "sskd_stage2", "repdistiller", "repdistiller_legacy",
                                    "repdistiller_last", "hssakd_backbone", "dataparallel", "dataparallel_wrapped",
                                    "safetensors"])
def test_backbone_checkpoints_load(tmp_path, layout):
    source = randomise(build_model("resnet8", num_classes=10))
    state = source.state_dict()
    obj = {
        "sskd_teacher": {"epoch": 240, "state_dict": state, "acc": 73.4},
        "sskd_stage2": {**{f"backbone.{k}": v for k, v in state.items()},
                        "proj_head.0.weight": torch.zeros(64, 64), "proj_head.0.bias": torch.zeros(64)},
        "repdistiller": {"epoch": 240, "model": state, "accuracy": torch.tensor(72.3),
                         "optimizer": {"state": {}, "param_groups": [{"lr": 0.05}]}},
        "repdistiller_legacy": {"epoch": 240, "model": state, "accuracy": torch.tensor(72.3)},
        "repdistiller_last": {"opt": argparse.Namespace(model="resnet8", learning_rate=0.05, lr_decay_epochs=[150, 180]),
                              "model": state, "optimizer": {"state": {}}},
        "hssakd_backbone": {"state_dict": state},
        "dataparallel": {f"module.{k}": v for k, v in state.items()},
        "dataparallel_wrapped": {"net": {f"module.{k}": v for k, v in state.items()}, "acc": 70.0},
        "safetensors": {k: v.contiguous() for k, v in state.items()},
    }[layout]
    target = build_model("resnet8", num_classes=10)
    name = "ckpt.safetensors" if layout == "safetensors" else "ckpt.pth"
    load_pretrained(target, saved(tmp_path, name, obj, legacy=layout.endswith("legacy")))
    logits_equal(source, target)


def test_sskd_mobilenetv2_classifier_name(tmp_path):
    source = randomise(build_model("MobileNetV2", num_classes=10))
    rename = THEIR_BACKBONE_NAMES["MobileNetV2"]
    path = saved(tmp_path, "best.pth", {"state_dict": {rename.get(k, k): v for k, v in source.state_dict().items()}})
    target = build_model("MobileNetV2", num_classes=10)
    load_pretrained(target, path, "MobileNetV2")
    logits_equal(source, target)


def test_torchvision_weights_load_bare(tmp_path):
    net = torchvision.models.ResNet(TorchvisionBasicBlock, [1, 1, 1, 1], num_classes=10)
    randomise(net)
    target = shallow_torchvision_resnet()
    load_pretrained(target, saved(tmp_path, "resnet-333f7ec4.pth", net.state_dict()))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x).logits, net(x))


# --------------------------------------------------------------------------- refusals


def refusal(path, network="resnet8"):
    with pytest.raises(CheckpointError) as err:
        load_pretrained(build_model(network, num_classes=10), path, network)
    message = str(err.value)
    assert str(path) in message
    return message


def test_a_dict_without_weights_is_refused_naming_its_keys(tmp_path):
    path = saved(tmp_path, "opt.pth", {"optimizer": {"state": {}}, "epoch": 3, "lr": 0.1})
    message = refusal(path)
    assert "\n" not in message and "holds no state dict" in message
    assert "top-level keys 'optimizer', 'epoch', 'lr'" in message


@pytest.mark.parametrize("payload, found", [([torch.zeros(2)], "a list"), ({}, "an empty dict"),
                                            ({"state_dict": {"w": 1.0}, "epoch": 1}, "'state_dict', 'epoch'"),
                                            ({f"k{i}": i for i in range(9)}, "and 4 more")])
def test_non_tensor_payloads_are_refused(tmp_path, payload, found):
    message = refusal(saved(tmp_path, "odd.pth", payload))
    assert "\n" not in message and found in message


def test_a_pickled_whole_model_is_refused_without_running_it(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(build_model("resnet8", num_classes=10), path)
    message = refusal(path)
    assert "\n" not in message and "weights_only" in message and "sskd.models.resnet_cifar.CifarResNet" in message


def test_a_raw_pickle_with_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "raw.pth"
    path.write_bytes(pickle.dumps({"model": Payload()}, protocol=2))
    message = refusal(path)
    assert "\n" not in message and "refuses the pickled print" in message


def test_a_checkpoint_of_another_network_names_the_network_and_keys(tmp_path):
    path = saved(tmp_path, "wrn.pth", {"model": build_model("wrn_16_2", num_classes=10).state_dict()})
    message = refusal(path, "resnet20")
    assert "does not fit network 'resnet20'" in message
    assert "missing keys (" in message and "bn1.weight" in message
    assert "unexpected keys (" in message and "block1.layer.0.bn1.weight" in message


def test_branches_of_another_network_are_refused_naming_it(tmp_path):
    theirs = their_model("resnet8")
    path = saved(tmp_path, "resnet8_aux.pth.tar", {"net": theirs.state_dict()})
    teacher = build_model("resnet20", num_classes=10)
    with pytest.raises(CheckpointError) as err:
        branches = build_branches("resnet20", teacher, 10)
        load_state_checked(branches, read_branch_weights(path, branches), str(path), "resnet20 auxiliary branches")
    assert "does not fit network 'resnet20 auxiliary branches'" in str(err.value)
    assert "missing keys" in str(err.value)


def test_a_truncated_checkpoint_is_called_unreadable_not_unsafe(tmp_path):
    path = tmp_path / "cut.pth"
    torch.save(build_model("resnet8", num_classes=10).state_dict(), path)
    path.write_bytes(path.read_bytes()[:4000])
    message = refusal(path)
    assert "is not a readable torch checkpoint" in message and "state_dict() instead" not in message
