"""Run configs: the papers' defaults, validation that names the key, overrides, recipes."""

import pytest

from sskd.config import (ConfigError, RunConfig, apply_override, config_from_dict, dump_config,
                         load_recipe, scaled_milestones)


def test_defaults_are_the_papers_cifar_recipe():
    from sskd.rules import apply_rules

    assert (config_from_dict({}).stages[0].lr, config_from_dict({}).stages[0].weight_decay) == (None, None)
    stage = apply_rules(config_from_dict({})).stages[0]  # what a fresh run fills in
    assert (stage.lr, stage.momentum, stage.weight_decay, stage.epochs) == (0.05, 0.9, 5e-4, 240)
    assert stage.milestones == [150, 180, 210] and stage.gamma == 0.1
    assert config_from_dict({}).data.batch_size == 64


@pytest.mark.parametrize("raw, key", [
    ({"stages": [{"lr": -0.1}]}, "stages[0].lr"),
    ({"stages": [{"lr": 0}]}, "stages[0].lr"),
    ({"data": {"val_fraction": 1.5}}, "data.val_fraction"),
    ({"data": {"train_fraction": 1.2}}, "data.train_fraction"),
    ({"data": {"label_noise": 1.01}}, "data.label_noise"),
    ({"stages": [{"epochs": 10, "milestones": [5, 12]}]}, "stages[0].milestones"),
    ({"stages": [{"epochs": 10, "milestones": [6, 3]}]}, "stages[0].milestones"),
    ({"stages": [{"name": "a"}, {"name": "b", "epochs": 0}]}, "stages[1].epochs"),
    ({"stages": [{"colour": 1}]}, "stages[0].colour"),
    ({"foo": 1}, "foo"),
    ({"data": {"batch_size": "64"}}, "data.batch_size"),
    ({"data": {"batch_size": 1.5}}, "data.batch_size"),
    ({"speed": {"channels_last": "yes"}}, "speed.channels_last"),
    ({"speed": {"amp": "int8"}}, "speed.amp"),
    ({"device": "gpu"}, "device"),
    ({"stages": []}, "stages"),
    ({"stages": [{"name": "a"}, {"name": "a"}]}, "stages"),
])
def test_bad_values_are_refused_naming_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert str(err.value).startswith(key)


def test_ints_are_accepted_where_floats_are_expected():
    assert config_from_dict({"stages": [{"lr": 1}]}).stages[0].lr == 1.0


def test_milestones_scale_with_epochs():
    assert scaled_milestones(240) == [150, 180, 210]
    assert scaled_milestones(24) == [15, 18, 21]
    assert scaled_milestones(1) == []
    assert config_from_dict({"stages": [{"epochs": 10}]}).stages[0].milestones == [6, 8, 9]


def test_overrides_address_nested_keys_and_stages():
    raw = {"stages": [{"name": "head", "epochs": 60}, {"name": "student"}]}
    apply_override(raw, "stages.-1.lr=0.01")
    apply_override(raw, "stages.0.milestones=[30, 45]")
    apply_override(raw, "data.name=cifar100")
    cfg = config_from_dict(raw)
    assert cfg.stages[1].lr == 0.01 and cfg.stages[0].milestones == [30, 45]
    assert cfg.data.name == "cifar100"
    with pytest.raises(ConfigError, match="stages.5"):
        apply_override(raw, "stages.5.lr=1")
    with pytest.raises(ConfigError, match="key=value"):
        apply_override(raw, "stages.0.lr")


def test_recipe_round_trip(tmp_path):
    cfg = config_from_dict({"model": {"name": "wrn_16_2"}, "stages": [{"epochs": 30, "nesterov": True}]})
    dump_config(cfg, tmp_path / "config.yaml")
    again = config_from_dict(load_recipe(tmp_path / "config.yaml"))
    assert again == cfg and isinstance(again, RunConfig)


def test_recipe_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(bad)
    code = tmp_path / "code.yaml"
    code.write_text("seed: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(code)


def test_a_stage_seed_overrides_the_run_seed_for_that_stage_only():
    config = config_from_dict({"seed": 7, "stages": [{"name": "a", "seed": 0}, {"name": "b"}]})
    assert [config.stage_seed(0), config.stage_seed(1)] == [0, 7]
    with pytest.raises(ConfigError, match=r"stages\[1\]\.seed: must be >= 0"):
        config_from_dict({"stages": [{"name": "a"}, {"name": "b", "seed": -1}]})


def test_override_reaches_a_stage_by_name():
    raw = {"stages": [{"name": "teacher_head", "epochs": 60}, {"name": "student", "epochs": 240}]}
    apply_override(raw, "stages.student.epochs=3")
    apply_override(raw, "stages.teacher_head.args.task=rotation")
    assert raw["stages"] == [{"name": "teacher_head", "epochs": 60, "args": {"task": "rotation"}},
                             {"name": "student", "epochs": 3}]
    with pytest.raises(ConfigError, match="no stage named 'studnet'.*'teacher_head', 'student'"):
        apply_override(raw, "stages.studnet.epochs=3")
