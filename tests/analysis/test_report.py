"""``sskd report``: the numbers, figures and commands of a fake experiment folder."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import statistics
from pathlib import Path

import pytest
from experiment_fixture import (CKA_ESTIMATOR, METHODS, PAIR, PROBE_BEST, PROBE_LAST, REFERENCE, SEEDS, SETTINGS,
                                TEACHER_LAST, TEMPERATURES, TSNE_CELL, UNFINISHED, best_top1, cell_name, cka, kl,
                                last_top1, write_experiment)

from sskd.analysis.report import Grid, GridRow, Setting, Stat, collect_experiment
from sskd.analysis.report_command import add_parser
from sskd.analysis.report_markdown import write_report
from sskd.analysis.report_plots import plot_grid_pair

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write_experiment(tmp_path_factory.mktemp("pristine") / "exp")


@pytest.fixture
def exp(pristine, tmp_path) -> Path:
    """A fresh copy of the fake experiment, for tests that change or write into it."""
    return Path(shutil.copytree(pristine, tmp_path / "exp"))


@pytest.fixture(scope="module")
def report(pristine, tmp_path_factory) -> Path:
    """The report of the untouched fixture, written outside it."""
    return write_report([pristine], tmp_path_factory.mktemp("report") / "out")


def expected(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (n=1)"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} (n={len(values)})"


def table_after(md: str, title: str) -> list[list[str]]:
    """The rows (header first) of the first Markdown table after the line ``title``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return [r for r in rows if set(r) != {"---"}]


def grid_table(md: str, which: str) -> dict[str, list[str]]:
    rows = table_after(md, f"**Test top-1 (%), {which} epoch**")
    assert rows[0] == ["pair", "method", "0.25", "1 (reference)"]
    return {r[1]: r[2:] for r in rows[1:]}


def test_grid_tables_hold_last_and_best_epoch_mean_std_over_seeds(report):
    md = report.read_text()
    for which, score in (("last", last_top1), ("best", best_top1)):
        table = grid_table(md, which)
        for method in METHODS:
            assert table[method] == [expected([score(method, s, seed) for seed in SEEDS]) for s, _ in SETTINGS]
    assert grid_table(md, "last")["KD"] != grid_table(md, "best")["KD"]


def test_unfinished_cell_shows_a_dash_and_is_counted(report):
    md = report.read_text()
    assert grid_table(md, "last")["HSSAKD"] == ["—", "—"]
    assert grid_table(md, "best")["HSSAKD"] == ["—", "—"]
    assert f"1 of 9 cells of this grid unfinished: `{UNFINISHED}`." in md
    assert "9 of 10 cells finished" in md
    assert f"# {UNFINISHED} (not finished)" in md


def test_one_finished_seed_is_printed_without_a_std(exp, tmp_path):
    (exp / "runs" / cell_name("KD", "0.25", 1) / "summary.json").unlink()
    md = write_report([exp], tmp_path / "out").read_text()
    assert grid_table(md, "last")["KD"][0] == f"{last_top1('KD', '0.25', 0):.2f} (n=1)"
    assert "2 of 9 cells of this grid unfinished" in md


def test_collected_numbers(pristine):
    e = collect_experiment(pristine)
    assert [(c.model, c.last_top1) for c in e.teachers] == [("resnet20", TEACHER_LAST)]
    assert e.seeds == list(SEEDS) and e.selected_on == {"test/top1": 9}
    (grid,) = e.grids
    row = next(r for r in grid.rows if r.method == "SSKD")
    values = [last_top1("SSKD", REFERENCE, s) for s in SEEDS]
    assert row.last[REFERENCE] == Stat(statistics.mean(values), statistics.stdev(values), 2)
    assert [c.name for c in grid.unfinished] == [UNFINISHED]
    assert {(r.method, r.setting) for r in e.similarity.rows} == {(m, REFERENCE) for m in METHODS}
    assert e.probes.rows[0].scores["stl10"] == (Stat(PROBE_LAST, None, 1), Stat(PROBE_BEST, None, 1))


def test_a_run_shared_by_two_grids_gives_its_similarity_to_both(exp):
    plan = json.loads((exp / "plan.json").read_text())
    grid = {**plan["grids"][0], "name": "again", "sweep": {"label": "x", "values": [{"label": REFERENCE, "x": 1.0}]}}
    shared = [{**c, "name": f"again.{c['name']}", "grid": "again"} for c in plan["cells"]
              if c["grid"] and c["setting"] == REFERENCE]
    plan["grids"].append(grid)
    plan["cells"] += shared
    (exp / "plan.json").write_text(json.dumps(plan))
    rows = {(r.grid, r.method): r for r in collect_experiment(exp).similarity.rows}
    assert set(rows) == {(g, m) for g in ("few_shot", "again") for m in METHODS}
    for method in METHODS:
        assert rows["again", method].cka == rows["few_shot", method].cka
        assert rows["again", method].cka.mean == pytest.approx(statistics.mean(cka(method, s) for s in SEEDS))


def test_similarity_table_at_the_reference_setting(report):
    md = report.read_text()
    assert f"on the pooled features; CKA estimator: {CKA_ESTIMATOR}." in md
    rows = table_after(md, "## Similarity to the teacher")
    assert rows[0][4:] == [f"KL(T‖S), T={t:g}" for t in TEMPERATURES] + ["CKA (pooled)"]
    assert len(rows) == 1 + len(METHODS)
    for row, method in zip(rows[1:], METHODS):
        assert row[2:4] == [method, REFERENCE]
        assert row[4:] == [expected([kl(method, s, t) for s in SEEDS], 4) for t in TEMPERATURES] \
            + [expected([cka(method, s) for s in SEEDS], 4)]


def test_tsne_and_probe_sections(report):
    md = report.read_text()
    assert f"resnet8, SSKD, cell `{TSNE_CELL}`" in md and "silhouette 0.3123" in md and "0.4568 in the 2-D map" in md
    assert "Not run: `tsne.teacher-resnet20`." in md
    rows = table_after(md, "## Linear probe")
    assert rows[0] == ["pair", "method", "model", "stl10 last epoch", "stl10 best epoch"]
    assert rows[1] == [PAIR, "SSKD", "resnet8", f"{PROBE_LAST:.2f} (n=1)", f"{PROBE_BEST:.2f} (n=1)"]


def test_figures_are_png_files_linked_inside_the_report_folder(report, pristine):
    from matplotlib.image import imread

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text())
    assert len(links) == 2  # the grid's plot and the t-SNE picture
    for link in links:
        path = (report.parent / link).resolve()
        assert path.is_relative_to(report.parent.resolve()) and path.is_file()
        assert path.read_bytes()[:8] == PNG_SIGNATURE and imread(path).ndim == 3
    tsne = next(report.parent / link for link in links if TSNE_CELL in link)
    assert tsne.read_bytes() == (pristine / "analysis" / "tsne" / f"{TSNE_CELL}.png").read_bytes()


def test_commands_appendix_lists_every_command(report, pristine):
    md = report.read_text()
    appendix = md[md.index("## Commands"):]
    plan = json.loads((pristine / "plan.json").read_text())
    for item in plan["cells"] + plan["analyses"]:
        assert f"# {item['name']}" in appendix and item["command"] in appendix
    assert "run from the experiment folder" in appendix
    assert appendix.index("### Teachers") < appendix.index("### Few-shot") < appendix.index("### Analyses")


def digest(folder: Path, skip: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and skip not in p.parents}


def run_command(*argv: str) -> int:
    """``sskd report ARGV`` through a parser of its own (as cli.py registers it)."""
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["report", *argv])
    return args.func(args)


def test_default_output_is_the_report_folder_and_nothing_else_changes(exp, capsys):
    before = digest(exp, exp / "report")
    assert run_command(str(exp)) == 0
    assert capsys.readouterr().out.strip() == str(exp / "report" / "report.md")
    assert (exp / "report" / "report.md").is_file()
    assert digest(exp, exp / "report") == before


def test_mixed_best_epoch_selection_is_said(exp, tmp_path):
    summary = exp / "runs" / cell_name("SSKD", "1", 0) / "summary.json"
    data = json.loads(summary.read_text())
    data["stages"]["student"]["best_epoch"]["selected_on"] = "val/top1"
    summary.write_text(json.dumps(data))
    md = write_report([exp], tmp_path / "out").read_text()
    assert "val/top1 (a validation split) for 1 cells" in md and "test/top1 (optimistic, as the papers report) " \
                                                                "for 8 cells" in md


def test_two_experiments_of_the_same_name_keep_their_figures_apart(pristine, tmp_path):
    other = Path(shutil.copytree(pristine, tmp_path / "elsewhere" / pristine.name))
    md = write_report([pristine, other], tmp_path / "out").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 4 and len(set(links)) == 4
    assert md.count("# Few-shot test experiment\n") == 2


def test_categorical_settings_are_plotted_at_positions(tmp_path):
    settings = [Setting("KD", None), Setting("KD+L_T", None)]
    row = GridRow("p", "SSKD", last={"KD": Stat(70.0, 1.0, 2), "KD+L_T": None}, best={})
    grid = Grid("ablation", "Ablation", "variant", settings, None, [row], [])
    assert plot_grid_pair(grid, "p", tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_SIGNATURE
    assert not plot_grid_pair(grid, "other pair", tmp_path / "b.png") and not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("damage, error, named", [
    (lambda e: shutil.rmtree(e), FileNotFoundError, ""),
    (lambda e: (e / "plan.json").unlink(), FileNotFoundError, "plan.json"),
    (lambda e: (e / "plan.json").write_text("{not json"), ValueError, "plan.json"),
    (lambda e: (e / "plan.json").write_text(json.dumps({"format": 99})), ValueError, "plan.json"),
    (lambda e: (e / "runs" / cell_name("KD", "1", 0) / "summary.json").write_text("{"), ValueError,
     f"runs/{cell_name('KD', '1', 0)}/summary.json"),
])
def test_errors_name_the_file(exp, tmp_path, damage, error, named):
    damage(exp)
    with pytest.raises(error, match=re.escape(str(exp / named) if named else str(exp))):
        run_command(str(exp), "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
