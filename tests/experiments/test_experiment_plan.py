"""What an experiment plans: which runs, in which order, and which analyses of them."""

import copy
import os
from pathlib import Path

from sskd.experiments.plan import plan_experiment
from sskd.experiments.runner import Job, job_levels, run_jobs
from sskd.experiments.spec import parse_experiment, read_experiment_file
from sskd.experiments.state import analysis_done

TOY = {
    "base": {"data": {"name": "digits"}},
    "pairs": [{"teacher": "resnet8", "student": "resnet8"}],
    "methods": ["CE", "SSKD"],
    "seeds": [0, 1],
    "grids": {"few": {"sweep": {"key": "data.train_fraction", "values": [0.5, 1.0], "reference": 1.0}}},
    "analyses": {"similarity": {}, "tsne": {"seeds": [1]}, "probe": {"datasets": [{"name": "digits"}], "epochs": 10}},
}


def plan(**changes):
    raw = copy.deepcopy(TOY)
    raw.update(changes)
    return plan_experiment(parse_experiment(raw))


def by_name(cells, grid, method, setting, seed):
    return next(c for c in cells if (c.grid, c.method, c.setting, c.seed) == (grid, method, setting, seed))


def test_a_teacher_run_is_planned_only_when_a_method_needs_one():
    assert [c.name for c in plan(methods=["CE"]).cells if c.kind == "teacher"] == []
    cells = plan().cells
    assert [c.name for c in cells if c.kind == "teacher"] == ["teacher-resnet8"]
    assert by_name(cells, "few", "CE", "1", 0).after == []
    assert "teacher-resnet8" in by_name(cells, "few", "SSKD", "1", 0).after


def test_a_shared_teacher_side_stage_is_trained_by_the_first_cell_and_read_by_the_others():
    cells = plan().cells
    first, second = by_name(cells, "few", "SSKD", "1", 0), by_name(cells, "few", "SSKD", "1", 1)
    assert first.name in second.after  # the head (its own seed 0) is the same for every run seed
    # with a training subset the run's seed picks the images, so each seed trains its own head
    assert by_name(cells, "few", "SSKD", "0.5", 0).name not in by_name(cells, "few", "SSKD", "0.5", 1).after
    levels = job_levels([Job(c.name, [], c.after) for c in cells])
    assert [j.key for j in levels[0]][:1] == ["few.resnet8-resnet8.CE.0.5.s0"]
    assert second.name in [j.key for j in levels[2]]


def test_analyses_measure_reference_cells_against_their_own_teacher(tmp_path, monkeypatch):
    analyses = plan().analyses
    similarity = [a for a in analyses if a.kind == "similarity"]
    assert sorted(a.cell for a in similarity) == ["few.resnet8-resnet8.CE.1.s0", "few.resnet8-resnet8.CE.1.s1",
                                                  "few.resnet8-resnet8.SSKD.1.s0", "few.resnet8-resnet8.SSKD.1.s1"]
    assert all(a.command.startswith("sskd similarity runs/teacher-resnet8 ") for a in similarity)
    assert sorted(a.cell for a in analyses if a.kind == "tsne") == [
        "few.resnet8-resnet8.CE.1.s1", "few.resnet8-resnet8.SSKD.1.s1", "teacher-resnet8"]
    probe = next(a for a in analyses if a.kind == "probe")
    assert "--epochs 10 --milestones 3 6 9" in probe.command

    checkpoint = tmp_path / "teacher.safetensors"
    checkpoint.write_bytes(b"weights")
    monkeypatch.chdir(tmp_path)
    with_checkpoint = plan(pairs=[{"teacher": "resnet8", "student": "resnet8", "teacher_checkpoint": "teacher.safetensors"}])
    assert not [c for c in with_checkpoint.cells if c.kind == "teacher"]
    command = next(a for a in with_checkpoint.analyses if a.kind == "similarity").command
    assert command.startswith(f"sskd similarity {checkpoint.resolve()} ")  # absolute: cells run elsewhere


def test_an_analysis_of_a_run_trained_again_is_pending_again(tmp_path):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    summary, output = run / "summary.json", tmp_path / "analysis.json"
    summary.write_text("{}")
    output.write_text("{}")
    os.utime(summary, (1000, 1000))
    os.utime(output, (2000, 2000))
    assert analysis_done(tmp_path, "analysis.json", ["runs/a"])
    os.utime(summary, (3000, 3000))
    assert not analysis_done(tmp_path, "analysis.json", ["runs/a"])
    assert not analysis_done(tmp_path, "missing.json", ["runs/a"])


def test_a_failed_command_skips_what_waits_for_it_and_nothing_else(tmp_path):
    jobs = [Job("broken", ["train", "--resume", "nowhere"]), Job("after-broken", ["models"], ["broken"]),
            Job("independent", ["models"])]
    outcome = run_jobs(tmp_path, jobs, log=lambda m: None)
    assert outcome.failed == ["broken"] and outcome.skipped == ["after-broken"] and outcome.done == ["independent"]
    assert Path.cwd() != tmp_path


def test_shipped_digits_experiment_shares_the_reference_runs_of_its_two_grids():
    shipped = plan_experiment(parse_experiment(read_experiment_file("digits_paper")))
    few = by_name(shipped.cells, "few_shot", "SSKD", "1", 0)
    noisy = by_name(shipped.cells, "noisy_labels", "SSKD", "0", 0)
    assert few.run_dir == noisy.run_dir
    assert len(shipped.unique_cells()) == len({c.run_dir for c in shipped.cells}) == 43


def test_noisy_label_cells_wait_for_the_one_head_they_all_read():
    cells = plan(grids={"noisy": {"sweep": {"key": "data.label_noise", "values": [0.0, 0.3], "reference": 0.0}}}).cells
    first = by_name(cells, "noisy", "SSKD", "0", 0)
    for other in (by_name(cells, "noisy", "SSKD", s, seed) for s in ("0", "0.3") for seed in (0, 1)):
        assert other is first or first.name in other.after


def test_a_run_shared_by_two_pairs_is_measured_against_each_pair_s_teacher():
    shared = plan(pairs=[{"teacher": "resnet8", "student": "resnet8"}, {"teacher": "resnet20", "student": "resnet8"}])
    ce = [c for c in shared.cells if c.method == "CE" and c.setting == "1" and c.seed == 0]
    assert len({c.run_dir for c in ce}) == 1 and {c.teacher_run for c in ce} == {"runs/teacher-resnet8",
                                                                                  "runs/teacher-resnet20"}
    commands = sorted(a.command for a in shared.analyses if a.kind == "similarity" and a.cell in {c.name for c in ce})
    assert [c.split()[2:5] for c in commands] == [
        ["runs/teacher-resnet20", ce[0].run_dir, "--teacher-model"], ["runs/teacher-resnet8", ce[0].run_dir,
                                                                      "--teacher-model"]]


def test_an_analysis_whose_settings_changed_is_pending_again(tmp_path):
    from sskd.experiments.state import record_command

    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    (run / "summary.json").write_text("{}")
    output = tmp_path / "analysis.json"
    output.write_text("{}")
    assert analysis_done(tmp_path, "analysis.json", ["runs/a"], "sskd similarity --temperatures 1")
    record_command(tmp_path, "analysis.json", "sskd similarity --temperatures 1")
    assert analysis_done(tmp_path, "analysis.json", ["runs/a"], "sskd similarity --temperatures 1")
    assert not analysis_done(tmp_path, "analysis.json", ["runs/a"], "sskd similarity --temperatures 2")
