"""The baselines' presets and the table recipes: the CRD benchmark's weights (BASELINES.md
§1.2), "+KD" as one rule, init stages, and every pair of the SSKD and HSSAKD tables served."""

import dataclasses

import pytest

from distill_helpers import resolved_recipe
from sskd.config import config_from_dict, list_presets, list_recipes, load_preset, load_recipe
from sskd.methods import method_class

# β of BASELINES.md §1.2 (scripts/run_cifar_distill.sh), written out here as the reference.
BETA = {"fitnet": 100, "at": 1000, "sp": 3000, "cc": 0.02, "vid": 1, "rkd": 1, "pkt": 30000, "ab": 1,
        "ft": 200, "fsp": 50, "nst": 50, "crd": 0.8}
INIT_STAGES = {"ab": "ab_init", "fsp": "fsp_init", "ft": "ft_paraphraser"}


def defaults(method):
    cls = method_class(method)
    return {f.name: f.default for f in dataclasses.fields(cls.Hparams)}


@pytest.mark.parametrize("name", sorted(BETA))
def test_standalone_preset_is_the_benchmarks_setting(name):
    stages = load_preset(name)["stages"]
    student = stages[-1]
    assert student["method"] == name and not student.get("args")
    d = defaults(name)
    assert (d["ce_weight"], d["kd_weight"], d["T"], d[f"{name}_weight"]) == (1.0, 0.0, 4.0, BETA[name])
    if name in INIT_STAGES:
        (init,) = stages[:-1]
        assert (init["method"], init["epochs"], init["milestones"]) == (INIT_STAGES[name], 30, [])
    else:
        assert len(stages) == 1


@pytest.mark.parametrize("name", sorted(BETA))
def test_plus_kd_preset_is_the_standalone_one_with_kd_weight_1(name):
    plus, alone = load_preset(f"{name}_kd"), load_preset(name)
    assert plus["stages"][:-1] == alone["stages"][:-1]
    args = dict(plus["stages"][-1].pop("args"))
    assert args == {"kd_weight": 1.0} and plus["stages"][-1] == alone["stages"][-1]


def test_every_preset_names_registered_methods():
    for preset in list_presets():
        for stage in load_preset(preset)["stages"]:
            method_class(stage["method"])


SSKD_TABLE_PAIRS = ["wrn_40_2-wrn_16_2", "wrn_40_2-wrn_40_1", "resnet56-resnet20", "resnet32x4-resnet8x4",
                    "vgg13-vgg8", "vgg13-MobileNetV2", "ResNet50-MobileNetV2", "ResNet50-vgg8",
                    "resnet32x4-ShuffleV1", "resnet32x4-ShuffleV2", "wrn_40_2-ShuffleV1"]
SSKD_TABLE_METHODS = ["kd", "fitnet", "at", "sp", "vid", "rkd", "pkt", "ab", "ft", "crd"]
HSSAKD_TABLE_PAIRS = ["wrn_40_2-wrn_16_2", "wrn_40_2-wrn_40_1", "resnet56-resnet20", "resnet32x4-resnet8x4",
                      "vgg13-MobileNetV2", "ResNet50-MobileNetV2", "wrn_40_2-ShuffleV1", "resnet32x4-ShuffleV2"]


def table_recipes():
    sskd = [f"cifar100_{m}_{p}" for p in SSKD_TABLE_PAIRS for m in SSKD_TABLE_METHODS]
    hssakd = [f"cifar100_hssakd-table_{m}_{p}" for p in HSSAKD_TABLE_PAIRS for m in ("kd", "crd")]
    return sskd + hssakd


def test_the_tables_baseline_rows_are_shipped_and_grouped():
    shipped = set(list_recipes())
    assert set(table_recipes()) <= shipped
    for name in table_recipes():
        about = load_recipe(name)["about"]
        pair = next(p for p in SSKD_TABLE_PAIRS if name.endswith(f"_{p}"))
        if "hssakd-table" in name:
            assert about["table"] == "HSSAKD (TNNLS 2022) CIFAR-100"
        else:
            table = 3 if SSKD_TABLE_PAIRS.index(pair) < 5 else 4
            assert about["table"] == f"SSKD (ECCV 2020) Table {table}"
            assert load_recipe(f"cifar100_sskd_{pair}")["about"]["table"] == about["table"]


@pytest.mark.parametrize("name", ["cifar100_fitnet_vgg13-vgg8", "cifar100_crd_resnet32x4-ShuffleV1",
                                  "cifar100_kd_wrn_40_2-wrn_40_1", "cifar100_ab_ResNet50-MobileNetV2",
                                  "cifar100_hssakd-table_crd_wrn_40_2-wrn_16_2"])
def test_table_recipes_expect_the_papers_numbers(name):
    expected = {"cifar100_fitnet_vgg13-vgg8": 73.54, "cifar100_crd_resnet32x4-ShuffleV1": 75.46,
                "cifar100_kd_wrn_40_2-wrn_40_1": 73.54, "cifar100_ab_ResNet50-MobileNetV2": 69.32,
                "cifar100_hssakd-table_crd_wrn_40_2-wrn_16_2": 75.81}
    assert load_recipe(name)["about"]["expected_top1"] == expected[name]


@pytest.mark.parametrize("name", table_recipes())
def test_every_table_pair_is_served_by_its_method(name):
    """Each stage's preflight check of the pair (the adapters' shapes from a meta-device dry
    run) passes, with the benchmark's lr: 0.01 for MobileNetV2 / ShuffleV1 / ShuffleV2."""
    config = resolved_recipe(name)
    for k, stage in enumerate(config.stages):
        method_class(stage.method).check_run(config, k)
    student = config.stages[-1]
    assert student.lr == (0.01 if config.model.name in ("MobileNetV2", "ShuffleV1", "ShuffleV2") else 0.05)
    plus_kd = not name.startswith(("cifar100_kd_", "cifar100_hssakd-table"))
    assert student.args.get("kd_weight", 0.0) == (1.0 if plus_kd else 0.0)


@pytest.mark.parametrize("method,teacher,student,why", [
    ("fsp", "wrn_40_2", "wrn_40_1", "channel"),
    ("fsp", "vgg13", "MobileNetV2", "channel"),
    ("at", "vgg13", "resnet8", "stage"),
])
def test_a_pair_a_method_cannot_serve_is_refused_in_one_sentence(method, teacher, student, why):
    config = config_from_dict({"model": {"name": student}, "teacher": {"name": teacher},
                               "stages": load_preset(method)["stages"]})
    k = len(config.stages) - 1
    with pytest.raises(ValueError) as info:
        method_class(config.stages[k].method).check_run(config, k)
    message = str(info.value)
    assert teacher in message and student in message and why in message


def test_a_preset_base_chain_that_loops_is_refused(tmp_path, monkeypatch):
    import sskd.config as config_module
    from sskd.config import ConfigError

    (tmp_path / "a.yaml").write_text("base: b\n")
    (tmp_path / "b.yaml").write_text("base: a\n")
    (tmp_path / "c.yaml").write_text("base: d\nstages: {student: {args: {kd_weight: 1}}}\n")
    (tmp_path / "d.yaml").write_text("stages: [{name: student, method: at}]\n")
    monkeypatch.setattr(config_module, "PRESETS_DIR", tmp_path)
    with pytest.raises(ConfigError, match="a -> b -> a"):
        load_preset("a")
    assert load_preset("c") == {"stages": [{"name": "student", "method": "at", "args": {"kd_weight": 1}}]}


@pytest.mark.parametrize("method", sorted(BETA))
def test_a_torchvision_teacher_is_served_or_refused_in_one_sentence(method):
    """torchvision's ResNet-18 has four stages, the CIFAR resnet8 three: the methods that pair
    stage maps one to one (and FSP) refuse the pair, naming it; the others serve it."""
    stages = load_preset(method)["stages"]
    config = config_from_dict({"model": {"name": "resnet8"}, "teacher": {"name": "torchvision:resnet18"},
                               "stages": stages})
    k = len(stages) - 1
    if method in ("at", "nst", "vid", "ab", "fsp"):
        with pytest.raises(ValueError) as info:
            method_class(config.stages[k].method).check_run(config, k)
        assert "torchvision:resnet18" in str(info.value) and "\n" not in str(info.value)
    else:
        for i, stage in enumerate(config.stages):
            method_class(stage.method).check_run(config, i)
