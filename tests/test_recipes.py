"""Shipped recipes parse into valid configs and are found by name."""

import pytest

from sskd.config import config_from_dict, list_recipes, load_recipe


def test_the_demo_recipe_is_shipped():
    assert "digits_teacher" in list_recipes()


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_is_valid(name):
    config = config_from_dict(load_recipe(name))
    assert config.stages and config.model.name


SSKD_PAIRS = [("wrn_40_2", "wrn_16_2"), ("wrn_40_2", "wrn_40_1"), ("resnet56", "resnet20"),
              ("resnet32x4", "resnet8x4"), ("vgg13", "vgg8"), ("vgg13", "MobileNetV2"),
              ("ResNet50", "MobileNetV2"), ("ResNet50", "vgg8"), ("resnet32x4", "ShuffleV1"),
              ("resnet32x4", "ShuffleV2"), ("wrn_40_2", "ShuffleV1")]


@pytest.mark.parametrize("teacher, student", SSKD_PAIRS)
def test_sskd_cifar_recipes_carry_the_released_hyperparameters(teacher, student):
    config = config_from_dict(load_recipe(f"cifar100_sskd_{teacher}-{student}"))
    head, main = config.stages
    assert (config.teacher.name, config.model.name, config.data.name) == (teacher, student, "cifar100")
    assert (head.method, head.epochs, head.lr, head.milestones) == ("sskd_teacher_head", 60, 0.05, [30, 45])
    assert (main.method, main.epochs, main.milestones, config.data.batch_size) == ("sskd", 240, [150, 180, 210], 64)
    assert main.lr == (0.01 if student in ("MobileNetV2", "ShuffleV1", "ShuffleV2") else 0.05)
    assert main.args == {}  # the released loss weights, temperatures and ratios are the defaults
