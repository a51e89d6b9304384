"""Shipped recipes parse into valid configs and are found by name."""

import pytest

from distill_helpers import resolved_recipe
from sskd.config import list_recipes


def test_the_demo_recipe_is_shipped():
    assert "digits_teacher" in list_recipes()


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_is_valid(name):
    config = resolved_recipe(name)
    assert config.stages and config.model.name


SSKD_PAIRS = [("wrn_40_2", "wrn_16_2"), ("wrn_40_2", "wrn_40_1"), ("resnet56", "resnet20"),
              ("resnet32x4", "resnet8x4"), ("vgg13", "vgg8"), ("vgg13", "MobileNetV2"),
              ("ResNet50", "MobileNetV2"), ("ResNet50", "vgg8"), ("resnet32x4", "ShuffleV1"),
              ("resnet32x4", "ShuffleV2"), ("wrn_40_2", "ShuffleV1")]


@pytest.mark.parametrize("teacher, student", SSKD_PAIRS)
def test_sskd_cifar_recipes_carry_the_released_hyperparameters(teacher, student):
    config = resolved_recipe(f"cifar100_sskd_{teacher}-{student}")
    head, main = config.stages
    assert (config.teacher.name, config.model.name, config.data.name) == (teacher, student, "cifar100")
    assert (head.method, head.epochs, head.lr, head.milestones) == ("sskd_teacher_head", 60, 0.05, [30, 45])
    assert (main.method, main.epochs, main.milestones, config.data.batch_size) == ("sskd", 240, [150, 180, 210], 64)
    assert main.lr == (0.01 if student in ("MobileNetV2", "ShuffleV1", "ShuffleV2") else 0.05)
    assert main.args == {}  # the released loss weights, temperatures and ratios are the defaults


HSSAKD_PAIRS = [("wrn_40_2", "wrn_16_2"), ("wrn_40_2", "wrn_40_1"), ("resnet56", "resnet20"),
                ("resnet32x4", "resnet8x4"), ("vgg13", "MobileNetV2"), ("ResNet50", "MobileNetV2"),
                ("wrn_40_2", "ShuffleV1"), ("resnet32x4", "ShuffleV2")]
SMALL_LR = ("MobileNetV2", "ShuffleV1", "ShuffleV2")


@pytest.mark.parametrize("teacher, student", HSSAKD_PAIRS)
def test_hssakd_cifar_recipes_carry_the_released_hyperparameters(teacher, student):
    frozen = resolved_recipe(f"cifar100_hssakd_{teacher}-{student}")
    star = resolved_recipe(f"cifar100_hssakd_star_{teacher}-{student}")
    branches, main = frozen.stages
    assert (branches.method, branches.epochs, branches.lr, branches.milestones, branches.nesterov) == (
        "hssakd_teacher", 100, 0.05, [30, 60, 90], True)
    for config in (frozen, star):
        student_stage = config.stages[-1]
        assert (config.teacher.name, config.model.name) == (teacher, student)
        assert (student_stage.method, student_stage.epochs, student_stage.milestones, student_stage.nesterov) == (
            "hssakd", 240, [150, 180, 210], True)
        assert student_stage.lr == (0.01 if student in SMALL_LR else 0.05)
        assert config.model.args == ({"stem_stride": 1} if student == "MobileNetV2" else {})
    assert len(star.stages) == 1
    joint = resolved_recipe(f"cifar100_hssakd_joint_{teacher}")
    assert (joint.model.name, joint.stages[0].method, joint.stages[0].epochs) == (teacher, "hssakd_joint", 240)


@pytest.mark.parametrize("network", ["wrn_40_2", "wrn_40_1", "resnet56", "resnet32x4", "vgg13", "MobileNetV2",
                                     "ShuffleV1", "ShuffleV2"])
def test_hssakd_online_recipes(network):
    config = resolved_recipe(f"cifar100_hssakd_online_{network}")
    (stage,) = config.stages
    assert (config.model.name, stage.method, stage.epochs, stage.nesterov) == (network, "hssakd_online", 240, True)
    assert stage.lr == (0.01 if network in SMALL_LR else 0.05)


def test_hssakd_imagenet_recipe():
    config = resolved_recipe("imagenet_hssakd_resnet34-resnet18")
    assert (config.teacher.name, config.model.name, config.data.batch_size) == ("resnet34", "resnet18", 256)
    assert [(s.method, s.epochs, s.lr, s.weight_decay, s.milestones, s.nesterov) for s in config.stages] == [
        ("hssakd_teacher", 100, 0.1, 1e-4, [30, 60, 90], False), ("hssakd", 100, 0.1, 1e-4, [30, 60, 90], False)]
