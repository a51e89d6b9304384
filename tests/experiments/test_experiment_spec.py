"""An experiment file is checked whole before anything runs; a bad one is refused, naming the offender."""

import copy

import pytest

from sskd.config import ConfigError
from sskd.experiments.plan import plan_experiment
from sskd.experiments.spec import list_experiments, parse_experiment, read_experiment_file

GOOD = {
    "title": "t",
    "base": {"data": {"name": "digits"}},
    "teacher": {"epochs": 1},
    "pairs": [{"teacher": "resnet8", "student": "resnet8"}],
    "methods": ["KD", "sskd"],
    "seeds": [0, 1],
    "grids": {"few": {"sweep": {"key": "data.train_fraction", "values": [0.5, 1.0], "reference": 1.0}}},
}


def spec_with(path: str, value):
    raw = copy.deepcopy(GOOD)
    node = raw
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


def test_good_file_gives_labelled_settings_and_paper_method_names():
    spec = parse_experiment(GOOD)
    (grid,) = spec.grids
    assert grid.methods == ["KD", "SSKD"]
    assert [(s.label, s.x, s.overrides) for s in grid.sweep.settings] == [
        ("0.5", 0.5, {"data.train_fraction": 0.5}), ("1", 1.0, {"data.train_fraction": 1.0})]
    assert grid.sweep.reference == "1"


def test_variants_set_several_keys_and_have_no_axis():
    raw = spec_with("grids", {"terms": {"sweep": {"label": "loss terms", "variants": {
        "KD": {"stages.student.args.tf_weight": 0, "stages.student.args.ss_weight": 0}, "all": {}}}}})
    (grid,) = parse_experiment(raw).grids
    assert [(s.label, s.x) for s in grid.sweep.settings] == [("KD", None), ("all", None)]
    assert grid.sweep.settings[0].overrides == {"stages.student.args.tf_weight": 0, "stages.student.args.ss_weight": 0}


@pytest.mark.parametrize("path, value, message", [
    ("colour", "red", "experiment: unknown key.*colour"),
    ("methods", ["KD", "SKSD"], "unknown 'SKSD'"),
    ("seeds", [0, -1], "seeds: seeds are integers >= 0"),
    ("seeds", [1, 1], "seeds: seeds repeat"),
    ("pairs", [{"teacher": "resnet8"}], "pairs.0: a pair names a teacher and a student"),
    ("pairs", [{"teacher": "resnet8", "student": "resnet8", "teacher_checkpoint": "nowhere.safetensors"}],
     "pairs.0.teacher_checkpoint: no such file"),
    ("grids", {}, "at least one grid"),
    ("grids", {"few": {"sweep": {"key": "data.train_fraction", "values": [0.5], "reference": 0.7}}},
     r"grids.few.sweep.reference: '0.7' is not one of the settings \['0.5'\]"),
    ("grids", {"few": {"sweep": {"values": [0.5]}}}, "grids.few.sweep: give key"),
    ("grids", {"few": {"sweep": {"key": "a", "values": [1]}, "epochs": 3}}, "grids.few: unknown key.*epochs"),
    ("grids", {"a b": {"sweep": {"key": "seed", "values": [1]}}}, "grids.a b: a grid name uses"),
    ("teacher", {"epochs": 0}, "teacher.epochs: expected an integer >= 1"),
    ("analyses", {"umap": {}}, "analyses.umap: unknown analysis"),
    ("analyses", {"tsne": {"perplexity": 3}}, "analyses.tsne: unknown key.*perplexity"),
    ("analyses", {"similarity": {"temperatures": "abc"}}, "analyses.similarity.temperatures: expected a list"),
    ("analyses", {"similarity": {"representation": "conv"}}, "analyses.similarity.representation: pooled or logits"),
    ("analyses", {"tsne": {"seeds": 0}}, "analyses.tsne.seeds: expected a non-empty list"),
    ("analyses", {"probe": {"datasets": [{"root": "x"}]}}, r"analyses.probe.datasets.0: expected \{name"),
    ("analyses", {"probe": {"datasets": [{"name": "mnist"}]}}, "analyses.probe.datasets.0: unknown data set 'mnist'"),
])
def test_bad_file_is_refused_naming_the_offender(path, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_experiment(spec_with(path, value))


@pytest.mark.parametrize("path, value, message", [
    ("pairs", [{"teacher": "resnet8", "student": "resnet_nine"}], "cell few.resnet8-resnet_nine.KD.0.5.s0: .*resnet_nine"),
    ("grids", {"few": {"sweep": {"key": "data.train_fracion", "values": [0.5]}}},
     "cell few.resnet8-resnet8.KD.0.5.s0: .*train_fracion"),
    ("grids", {"few": {"sweep": {"key": "data.train_fraction", "values": [1.5]}}},
     "cell few.resnet8-resnet8.KD.1.5.s0: data.train_fraction: must be in"),
    ("grids", {"few": {"sweep": {"key": "stages.teacher_head.args.task", "values": ["rotation"]}}},
     "cell few.resnet8-resnet8.KD.rotation.s0: .*no stage named 'teacher_head'"),
    ("grids", {"few": {"sweep": {"key": "stages.student.args.tempreature", "values": [2]}}},
     "cell few.resnet8-resnet8.KD.2.s0: .*tempreature"),
    ("grids", {"few": {"methods": ["HSSAKD"], "sweep": {"key": "stages.student.args.branches", "values": [[4]]}}},
     "cell few.resnet8-resnet8.HSSAKD._4_.s0: .*branches must be"),
    ("pairs", [{"teacher": "resnet8", "student": "resnet8"}, {"teacher": "resnet8", "student": "resnet8",
                                                                "teacher_checkpoint": __file__}],
     "cell few.resnet8-resnet8.KD.0.5.s0: named like an earlier cell with another config"),
])
def test_a_cell_that_cannot_run_is_refused_before_any_run(path, value, message):
    with pytest.raises(ConfigError, match=message):
        plan_experiment(parse_experiment(spec_with(path, value)))


def test_overrides_change_the_file_and_unknown_names_are_listed(tmp_path):
    raw = read_experiment_file("digits_paper", ("seeds=[3]", "grids.few_shot.sweep.values=[0.5]"))
    assert raw["seeds"] == [3] and raw["grids"]["few_shot"]["sweep"]["values"] == [0.5]
    with pytest.raises(ConfigError, match="no such file, nor a shipped experiment.*digits_paper"):
        read_experiment_file("digits_papers")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="bad.yaml.*expected a mapping"):
        read_experiment_file(bad)
    bad.write_text("title: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_experiment_file(bad)


def test_every_shipped_experiment_plans():
    for name in list_experiments():
        plan = plan_experiment(parse_experiment(read_experiment_file(name)))
        assert plan.cells, name


def test_relative_paths_become_absolute_wherever_a_run_reads_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt.pth").write_bytes(b"weights")
    raw = spec_with("grids", {"few": {"set": {"data.root": "cifar"}, "sweep": {"variants": {
        "other": {"teacher.checkpoint": "ckpt.pth"}}}}})
    raw["base"]["data"]["root"] = "data"
    raw["pairs"][0]["teacher_checkpoint"] = "ckpt.pth"
    spec = parse_experiment(raw)
    assert spec.base["data"]["root"] == str(tmp_path / "data")
    assert spec.grids[0].pairs[0].teacher_checkpoint == str(tmp_path / "ckpt.pth")
    assert spec.grids[0].overrides == {"data.root": str(tmp_path / "cifar")}
    assert spec.grids[0].sweep.settings[0].overrides == {"teacher.checkpoint": str(tmp_path / "ckpt.pth")}
