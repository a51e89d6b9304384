"""`sskd distill --method M` is built from the shipped preset of M, and matches the recipes."""


import pytest
import torch

from distill_helpers import resolved_recipe
from sskd.cli import build_parser, train_config_from_args
from sskd.config import AboutConfig, ConfigError, config_from_dict, list_presets, list_recipes, load_recipe, merge_recipe
from sskd.models import build_model

CIFAR_STUDENTS = ["resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
                  "resnet8x4", "resnet32x4", "wrn_16_1", "wrn_16_2", "wrn_40_1", "wrn_40_2", "vgg8", "vgg11",
                  "vgg13", "vgg16", "vgg19", "MobileNetV2", "ShuffleV1", "ShuffleV2", "ResNet50"]
BASELINES = ["fitnet", "at", "sp", "cc", "vid", "rkd", "pkt", "ab", "ft", "fsp", "nst", "crd"]
DISTILL_PRESETS = ["kd", "sskd", "hssakd", "hssakd_student", *BASELINES, *(f"{m}_kd" for m in BASELINES)]


def cli_config(method: str, teacher: str, student: str):
    args = build_parser().parse_args(["distill", "--method", method, "--teacher", teacher, "--student", student,
                                      "--dataset", "cifar100"])
    return train_config_from_args(args)


def pair_recipes():
    """(recipe name, its preset) of every shipped recipe laid over a distill preset."""
    import yaml

    from sskd.config import RECIPES_DIR

    found = []
    for name in list_recipes():
        base = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text()).get("base")
        if base:
            found.append((name, base))
    return found


def stage_settings(config):
    return [(s.name, s.method, s.epochs, s.lr, s.milestones, s.nesterov, s.seed, s.args) for s in config.stages]


def stem_size(name: str, args: dict) -> tuple:
    """Shapes of a network's feature maps for one 32×32 image (built on the meta device)."""
    with torch.device("meta"):
        out = build_model(name, num_classes=100, **args)(torch.zeros(1, 3, 32, 32))
    return tuple(tuple(f.shape[1:]) for f in out.feats)


def test_the_presets_are_the_distill_methods():
    assert list_presets() == sorted(DISTILL_PRESETS)
    # SSKD Tables 3-4, HSSAKD Teacher and Teacher* rows; the baseline rows of SSKD Tables 3-4
    # (10 methods x 11 pairs) and HSSAKD's KD and CRD columns (8 pairs)
    assert len(pair_recipes()) == 11 + 8 + 8 + 110 + 16


@pytest.mark.parametrize("preset, stages", [
    # (name, method, epochs, lr, milestones, nesterov, seed) for a resnet student: SSKD.md §2.2, §3.5;
    # HSSAKD.md §3.1, §4.3
    ("kd", [("student", "kd", 240, 0.05, [150, 180, 210], False, None)]),
    ("sskd", [("teacher_head", "sskd_teacher_head", 60, 0.05, [30, 45], False, 0),
              ("student", "sskd", 240, 0.05, [150, 180, 210], False, None)]),
    ("hssakd", [("teacher_branches", "hssakd_teacher", 100, 0.05, [30, 60, 90], True, 0),
                ("student", "hssakd", 240, 0.05, [150, 180, 210], True, None)]),
    ("hssakd_student", [("student", "hssakd", 240, 0.05, [150, 180, 210], True, None)]),
])
def test_each_preset_runs_the_papers_stages(preset, stages):
    flags = cli_config(preset, "resnet32x4", "resnet8x4")
    assert [(s.name, s.method, s.epochs, s.lr, s.milestones, s.nesterov, s.seed) for s in flags.stages] == stages
    assert all(s.weight_decay == 5e-4 and s.optimizer == "sgd" for s in flags.stages)


@pytest.mark.parametrize("recipe, preset", pair_recipes())
def test_distill_flags_build_what_the_recipe_builds(recipe, preset):
    shipped = resolved_recipe(recipe)
    flags = cli_config(preset, shipped.teacher.name, shipped.model.name)
    assert stage_settings(flags) == stage_settings(shipped)
    assert (flags.model.name, flags.model.args) == (shipped.model.name, shipped.model.args)
    assert (flags.teacher.name, flags.teacher.args) == (shipped.teacher.name, shipped.teacher.args)


@pytest.mark.parametrize("preset", DISTILL_PRESETS)
@pytest.mark.parametrize("student", CIFAR_STUDENTS)
def test_every_distill_student_is_the_network_of_the_methods_recipes(preset, student):
    flags = cli_config(preset, "resnet32x4", student)
    # The paper's own variant: HSSAKD's recipes train the stride-1 MobileNetV2, SSKD's the stride-2 one.
    vanilla = "cifar100_vanilla_MobileNetV2_stem1" if preset.startswith("hssakd") else "cifar100_vanilla_MobileNetV2"
    if student == "MobileNetV2":
        reference = resolved_recipe(vanilla).model
        assert stem_size(student, flags.model.args) == stem_size(student, reference.args)
    else:
        assert flags.model.args == {}
    light = student in ("MobileNetV2", "ShuffleV1", "ShuffleV2")
    assert flags.stages[-1].lr == (0.01 if light else 0.05)
    student_lr = 0.01 if light else 0.05
    earlier = {  # teacher heads and branches: the released t_lr; FT's paraphraser: the benchmark's rule
        "sskd_teacher_head": 0.05, "hssakd_teacher": 0.05, "ab_init": student_lr, "fsp_init": student_lr,
        "ft_paraphraser": 0.01 if student.startswith(("resnet", "wrn")) else student_lr}
    assert [s.lr for s in flags.stages[:-1]] == [earlier[s.method] for s in flags.stages[:-1]]


def test_the_two_mobilenetv2_stems_differ():
    assert stem_size("MobileNetV2", {})[0][1:] == (16, 16)
    assert stem_size("MobileNetV2", {"stem_stride": 1})[0][1:] == (32, 32)


def test_the_stem_rule_is_the_trained_networks_not_the_teachers():
    flags = cli_config("hssakd", "MobileNetV2", "resnet8")  # a teacher is built as its checkpoint says
    assert (flags.model.args, flags.teacher.args) == ({}, {})


def test_adamw_gets_its_own_defaults_not_sgds():
    args = build_parser().parse_args(["distill", "--method", "sskd", "--teacher", "vgg13", "--student",
                                      "ShuffleV2", "--optimizer", "adamw"])
    head, student = train_config_from_args(args).stages
    assert (student.lr, student.weight_decay) == (1e-3, 0.05)
    assert (head.optimizer, head.lr, head.weight_decay) == ("sgd", 0.05, 5e-4)  # --optimizer: the student's


def test_an_explicit_learning_rate_or_stem_wins_over_the_rule():
    args = build_parser().parse_args(["distill", "--method", "hssakd", "--teacher", "vgg13", "--student",
                                      "MobileNetV2", "--lr", "0.2", "--set", "model.args.stem_stride=2"])
    config = train_config_from_args(args)
    assert config.stages[-1].lr == 0.2 and config.stages[0].lr == 0.05
    assert config.model.args == {"stem_stride": 2}


def test_train_also_applies_the_network_rule():
    args = build_parser().parse_args(["train", "--model", "ShuffleV2", "--dataset", "cifar100"])
    assert train_config_from_args(args).stages[-1].lr == 0.01


def test_unknown_distill_method_names_the_presets():
    args = build_parser().parse_args(["distill", "--method", "fitnett", "--teacher", "vgg13", "--student", "vgg8"])
    with pytest.raises(ConfigError, match="--method: distill knows ab, ab_kd, at, at_kd, cc, cc_kd, crd, crd_kd"):
        train_config_from_args(args)


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_says_what_it_reproduces_and_with_which_teacher(name):
    config = resolved_recipe(name)
    assert config.about.title
    if name.startswith(("cifar100", "imagenet")):
        assert config.about.expected_top1 is not None and config.about.reference
    if config.teacher.name is not None and name.startswith(("cifar100", "imagenet")):
        assert config.about.teacher_checkpoint and config.about.teacher_top1 > 50


def test_sskd_and_hssakd_recipes_name_different_teachers_for_vgg13():
    sskd = resolved_recipe("cifar100_sskd_vgg13-vgg8").about
    hssakd = resolved_recipe("cifar100_hssakd_vgg13-MobileNetV2").about
    assert (sskd.teacher_top1, hssakd.teacher_top1) == (75.38, 74.64)  # SSKD's own vs the CRD authors'
    assert "SSKD authors'" in sskd.teacher_checkpoint and "CRD authors'" in hssakd.teacher_checkpoint


@pytest.mark.parametrize("network, expected", [("wrn_40_2", 76.46), ("resnet56", 73.44), ("resnet32x4", 79.63),
                                               ("vgg13", 75.38), ("ResNet50", 79.10), ("wrn_16_2", 73.64),
                                               ("wrn_40_1", 72.24), ("resnet20", 69.63), ("resnet8x4", 72.51),
                                               ("vgg8", 70.68), ("MobileNetV2", 65.79), ("ShuffleV1", 70.77),
                                               ("ShuffleV2", 73.12)])
def test_teacher_and_vanilla_recipes_for_every_network_of_the_tables(network, expected):
    config = resolved_recipe(f"cifar100_vanilla_{network}")
    (stage,) = config.stages
    assert (config.model.name, stage.method, stage.epochs, stage.milestones) == (
        network, "supervised", 240, [150, 180, 210])
    assert (config.about.expected_top1, config.teacher.name) == (expected, None)


def test_recipes_command_shows_each_recipes_teacher(capsys):
    from sskd.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("  cifar100_sskd_wrn_40_2-wrn_16_2 "))
    assert "expected top-1 76.04" in line and "teacher: the SSKD authors' released wrn_40_2" in line
    assert "76.46" in line and "hssakd_student" in out
    tables = [l for l in out.splitlines() if l and not l.startswith(" ")]
    assert tables[:4] == ["HSSAKD (TNNLS 2022) CIFAR-100", "SSKD (ECCV 2020) Table 3", "SSKD (ECCV 2020) Table 4",
                          "other recipes"]
    table3 = out[out.index("SSKD (ECCV 2020) Table 3"):out.index("SSKD (ECCV 2020) Table 4")]
    assert "cifar100_fitnet_vgg13-vgg8 " in table3 and "cifar100_fitnet_vgg13-MobileNetV2" not in table3


def test_a_recipe_changes_its_base_stages_by_name():
    base = {"stages": [{"name": "head", "epochs": 60}, {"name": "student", "epochs": 240}], "seed": 1}
    merged = merge_recipe(base, {"stages": {"student": {"epochs": 30}}, "model": {"name": "vgg8"}})
    assert merged["stages"] == [{"name": "head", "epochs": 60}, {"name": "student", "epochs": 30}]
    assert merged["model"] == {"name": "vgg8"} and merged["seed"] == 1
    assert base["stages"][1]["epochs"] == 240  # the base is not modified
    with pytest.raises(ConfigError, match="stages.teacher: the base has no such stage"):
        merge_recipe(base, {"stages": {"teacher": {"epochs": 3}}})


def test_a_recipe_with_an_unknown_base_names_the_presets(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("base: crdd\nmodel: {name: vgg8}\n")
    with pytest.raises(ConfigError, match="preset 'crdd': unknown; valid: ab, ab_kd"):
        load_recipe(path)


def test_about_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="about.teacher: unknown key"):
        config_from_dict({"about": {"teacher": "x"}})
    assert isinstance(config_from_dict({}).about, AboutConfig)


def test_distill_refuses_a_method_that_contradicts_the_recipes_stages():
    args = build_parser().parse_args(["distill", "--recipe", "cifar100_sskd_vgg13-vgg8", "--method", "kd"])
    with pytest.raises(ConfigError, match="--method kd: the recipe cifar100_sskd_vgg13-vgg8 sets its own stages"):
        train_config_from_args(args)
    args = build_parser().parse_args(["distill", "--recipe", "cifar100_sskd_vgg13-vgg8"])
    assert [s.method for s in train_config_from_args(args).stages] == ["sskd_teacher_head", "sskd"]
    args = build_parser().parse_args(["distill", "--teacher", "vgg13", "--student", "vgg8"])
    assert [s.method for s in train_config_from_args(args).stages] == ["sskd_teacher_head", "sskd"]  # the default


def test_a_resumed_run_keeps_the_network_args_it_recorded():
    from sskd.rules import apply_rules

    raw = {"model": {"name": "MobileNetV2"}, "stages": [{"method": "hssakd_online"}]}
    resumed = apply_rules(config_from_dict(raw), network_args=False)
    assert resumed.model.args == {} and resumed.stages[0].lr == 0.01  # unset values are still filled
    assert apply_rules(config_from_dict(raw)).model.args == {"stem_stride": 1}
