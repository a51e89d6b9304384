"""``sskd experiment`` end to end on digits at toy scale: the grid runs, the same subsets and
corrupted labels reach every method, the report's numbers are the runs' own, a stopped grid
resumes without redoing finished work, and runs of another config are refused."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from sskd.cli import main
from sskd.config import config_from_dict
from sskd.data.subsets import round_half_up
from sskd.engine.data import prepare_data

EXPERIMENT = {
    "title": "toy",
    "base": {"data": {"name": "digits", "batch_size": 64},
             "output": {"progress": "none", "keep_checkpoints": 1, "tensorboard": False}},
    "teacher": {"epochs": 1},
    "pairs": [{"teacher": "resnet8", "student": "resnet8"}],
    "methods": ["KD", "SSKD"],
    "seeds": [0],
    "epochs": {"before": 1, "student": 1},
    "grids": {
        "few": {"sweep": {"key": "data.train_fraction", "values": [0.2, 0.4], "reference": 0.4}},
        "noisy": {"set": {"data.train_fraction": 0.4},
                  "sweep": {"key": "data.label_noise", "values": [0.0, 0.3], "reference": 0.0}},
    },
    "analyses": {"similarity": {"temperatures": [1, 4]}, "tsne": {"per_class": 4}},
}


def run_experiment(tmp: Path, exp: Path, *extra: str) -> int:
    recipe = tmp / "toy.yaml"
    recipe.write_text(yaml.safe_dump(EXPERIMENT))
    return main(["experiment", "--recipe", str(recipe), "--out", str(exp), *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("experiment")
    exp = tmp / "exp"
    assert run_experiment(tmp, exp) == 0
    return tmp, exp


def plan_of(exp: Path) -> dict:
    return json.loads((exp / "plan.json").read_text())


def cell(exp: Path, grid: str, method: str, setting: str) -> dict:
    return next(c for c in plan_of(exp)["cells"]
                if (c["grid"], c["method"], c["setting"]) == (grid, method, setting))


def last_top1(exp: Path, run_dir: str) -> float:
    records = [json.loads(line) for line in (exp / run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["stage"] == "student"][-1]["test/top1"]


def test_identical_cells_share_one_run_and_every_run_finishes(finished):
    _, exp = finished
    plan = plan_of(exp)
    runs = {c["run_dir"] for c in plan["cells"]}
    assert len(plan["cells"]) == 9 and len(runs) == 7  # noisy 0.0 is few 0.4: one run each for KD and SSKD
    assert cell(exp, "noisy", "KD", "0")["run_dir"] == cell(exp, "few", "KD", "0.4")["run_dir"]
    assert all((exp / r / "summary.json").is_file() for r in runs)
    assert sorted(p.name for p in (exp / "analysis" / "similarity").iterdir()) == sorted(
        f"{Path(cell(exp, 'few', m, '0.4')['run_dir']).name}--teacher-resnet8.json" for m in ("KD", "SSKD"))
    assert len(list((exp / "analysis" / "tsne").glob("*.png"))) == 3  # the teacher and one per method


def test_teacher_trains_on_all_clean_labels(finished):
    _, exp = finished
    teacher = yaml.safe_load((exp / "runs" / "teacher-resnet8" / "config.yaml").read_text())
    assert teacher["data"]["train_fraction"] == 1.0 and teacher["data"]["label_noise"] == 0.0


def test_every_method_sees_the_same_subset_and_the_same_corrupted_labels(finished):
    _, exp = finished
    data = {}
    for method in ("KD", "SSKD"):
        raw = yaml.safe_load((exp / "runs" / Path(cell(exp, "noisy", method, "0.3")["run_dir"]).name
                              / "config.yaml").read_text())
        config = config_from_dict(raw)
        data[method] = prepare_data(config.data, config.seed).train
    kd, sskd = data["KD"], data["SSKD"]
    assert kd.labels.equal(sskd.labels) and kd.images.equal(sskd.images)
    clean = prepare_data(config_from_dict({"data": {"name": "digits", "train_fraction": 0.4}}).data, 0).train
    assert clean.images.equal(kd.images)
    assert int((clean.labels != kd.labels).sum()) == round_half_up(0.3 * len(clean))


def test_report_numbers_are_the_runs_own(finished):
    _, exp = finished
    report = (exp / "report" / "report.md").read_text()
    for method in ("KD", "SSKD"):
        values = [last_top1(exp, cell(exp, "few", method, s)["run_dir"]) for s in ("0.2", "0.4")]
        assert f"| resnet8-resnet8 | {method} | {values[0]:.2f} (n=1) | {values[1]:.2f} (n=1) |" in report
        similarity = json.loads((exp / "analysis" / "similarity" /
                                 f"{Path(cell(exp, 'few', method, '0.4')['run_dir']).name}--teacher-resnet8.json"
                                 ).read_text())
        assert f"{similarity['cka']:.4f}" in report
    assert "sskd train --recipe plan/teacher-resnet8.yaml" in report
    assert "# noisy.resnet8-resnet8.KD.0.s0: the run of few.resnet8-resnet8.KD.0.4.s0" in report


def test_stopped_grid_resumes_and_skips_finished_work(finished, capsys):
    tmp, exp = finished
    stopped = exp / cell(exp, "few", "KD", "0.2")["run_dir"]       # as if killed after its last checkpoint
    lost = exp / cell(exp, "few", "SSKD", "0.2")["run_dir"]         # as if killed before anything was saved
    kept = exp / cell(exp, "noisy", "SSKD", "0.3")["run_dir"]
    metric_lines = len((stopped / "metrics.jsonl").read_text().splitlines())
    (stopped / "summary.json").unlink()
    for path in sorted(lost.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    lost.rmdir()
    tsne = next((exp / "analysis" / "tsne").glob("teacher*.json"))
    tsne.unlink()
    kept_hash = hashlib.sha256((kept / "model.safetensors").read_bytes()).hexdigest()
    capsys.readouterr()

    assert main(["experiment", "--out", str(exp), "--print-commands"]) == 0
    printed = capsys.readouterr().out
    assert f"sskd train --resume {stopped.relative_to(exp)}" in printed
    assert f"sskd train --recipe plan/{lost.name}.yaml" in printed and "sskd tsne runs/teacher-resnet8" in printed
    assert kept.name not in printed

    assert main(["experiment", "--out", str(exp)]) == 0
    assert (stopped / "summary.json").is_file() and (lost / "summary.json").is_file() and tsne.is_file()
    assert len((stopped / "metrics.jsonl").read_text().splitlines()) == metric_lines  # resumed, not retrained
    assert hashlib.sha256((kept / "model.safetensors").read_bytes()).hexdigest() == kept_hash
    assert "3 run, 0 failed" in capsys.readouterr().out


def test_runs_of_another_config_are_refused_and_nothing_is_written(finished, capsys):
    tmp, exp = finished
    before = {p: p.read_bytes() for p in (exp / "plan.json", exp / "experiment.yaml")}
    assert run_experiment(tmp, exp, "--set", "epochs={before: 1, student: 2}") == 2
    error = capsys.readouterr().err
    assert error.startswith("sskd experiment: error: ") and "another config" in error
    assert "stages.student.epochs is 1, the plan says 2" in error
    assert all(p.read_bytes() == b for p, b in before.items())


def test_cells_run_side_by_side_as_subprocesses(tmp_path):
    recipe = tmp_path / "ce.yaml"
    recipe.write_text(yaml.safe_dump({
        "base": {"data": {"name": "digits"}, "output": {"progress": "none", "tensorboard": False}},
        "pairs": [{"teacher": "resnet8", "student": "resnet8"}], "methods": ["CE"], "seeds": [0, 1],
        "epochs": {"before": 1, "student": 1},
        "grids": {"few": {"sweep": {"key": "data.train_fraction", "values": [0.2]}}}}))
    exp = tmp_path / "exp"
    assert main(["experiment", "--recipe", str(recipe), "--out", str(exp), "--jobs", "2", "--no-report"]) == 0
    runs = sorted(p.name for p in (exp / "runs").iterdir() if (p / "summary.json").is_file())
    assert runs == ["few.resnet8-resnet8.CE.0.2.s0", "few.resnet8-resnet8.CE.0.2.s1"]
    assert sorted(p.name for p in (exp / "logs").iterdir()) == [f"runs_{r}.log" for r in runs]


def test_changed_analysis_settings_redo_the_analyses_only(finished, capsys):
    tmp, exp = finished
    runs_before = {p: p.stat().st_mtime for p in (exp / "runs").glob("*/summary.json")}
    assert run_experiment(tmp, exp, "--set", "analyses.similarity.temperatures=[2]") == 0
    assert "2 run, 0 failed" in capsys.readouterr().out  # the two similarity analyses, no training
    assert {p: p.stat().st_mtime for p in (exp / "runs").glob("*/summary.json")} == runs_before
    assert "KL(T‖S), T=2" in (exp / "report" / "report.md").read_text()
