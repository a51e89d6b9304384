"""An experiment's plan: every cell's run config, every analysis, and what waits for what.

Cells and analyses are ordinary commands run from the experiment folder: paths in their
configs are relative to it, so the folder can be moved or copied to a cluster. Layout::

    EXP/experiment.yaml         the experiment file as run
    EXP/plan.json               cells, analyses, commands (read by ``sskd report``)
    EXP/plan/<cell>.yaml        each cell's run config: ``sskd train --recipe plan/<cell>.yaml``
    EXP/runs/<cell>/            the runs; EXP/runs/cache/ the shared stage cache
    EXP/analysis/<kind>/...     similarity, t-SNE and linear-probe results

Each teacher is trained once, on the full clean training set, and shared by every grid.
Cells whose configs come out identical (e.g. 100% data in the few-shot grid and 0% noise in
the noisy-label grid) share one run. The first cell of a group that trains the same
teacher-side stage (SSKD's head, HSSAKD's branches) runs before the others, which then
load it from the stage cache.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sskd.config import ConfigError, apply_override, config_from_dict
from sskd.experiments.rows import method_needs_teacher, method_stages, row_stages
from sskd.experiments.spec import ExperimentSpec, Grid, Pair, Setting
from sskd.rules import apply_rules

PLAN_FORMAT = 1
RUNS = "runs"


@dataclass
class Cell:
    """One run of the plan (the fields of ``plan.json``'s cells)."""

    name: str
    kind: str  # "teacher" or "student"
    grid: Optional[str]
    pair: Optional[str]
    model: str
    teacher: Optional[str]
    method: str
    setting: Optional[str]
    seed: int
    run_dir: str
    stage: str
    command: str
    after: list[str] = field(default_factory=list)
    teacher_run: Optional[str] = None  # the pair's teacher: its run directory or checkpoint


@dataclass
class Analysis:
    """One analysis of finished cells (the fields of ``plan.json``'s analyses)."""

    name: str
    kind: str  # "similarity", "tsne" or "probe"
    cell: str
    output: str
    command: str
    after: list[str] = field(default_factory=list)
    dataset: Optional[str] = None
    teacher: Optional[str] = None  # similarity: the teacher measured against


@dataclass
class Plan:
    spec: ExperimentSpec
    cells: list[Cell]
    configs: dict[str, dict]  # run_dir -> the run config (plain data) of the cell that runs it
    analyses: list[Analysis]

    def unique_cells(self) -> list[Cell]:
        """One cell per run directory, in plan order."""
        seen: dict[str, Cell] = {}
        for cell in self.cells:
            seen.setdefault(cell.run_dir, cell)
        return list(seen.values())

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {"format": PLAN_FORMAT, "title": spec.title, "about": spec.about,
                "grids": [{"name": g.name, "title": g.title,
                           "sweep": {"label": g.sweep.label,
                                     "values": [{"label": s.label, "x": s.x} for s in g.sweep.settings]},
                           "reference": g.sweep.reference} for g in spec.grids],
                "cells": [asdict(c) for c in self.cells],
                "analyses": [{k: v for k, v in asdict(a).items() if v is not None} for a in self.analyses]}


def effective_config(raw: dict) -> dict:
    """The config a run of recipe ``raw`` writes to its ``config.yaml`` (rules applied, checked)."""
    return apply_rules(config_from_dict(copy.deepcopy(raw))).validate().to_dict()


def plan_experiment(spec: ExperimentSpec) -> Plan:
    """Every cell and analysis of ``spec``; each cell's config is built and checked here, so a
    bad key, method or value is refused (naming the cell) before anything runs."""
    cells: list[Cell] = []
    configs: dict[str, dict] = {}
    by_config: dict[str, str] = {}
    teachers: dict[str, Cell] = {}
    for grid in spec.grids:
        for pair in grid.pairs:
            for method in grid.methods:
                for setting in grid.sweep.settings:
                    for seed in grid.seeds:
                        cell, raw = _student_cell(spec, grid, pair, method, setting, seed,
                                                  lambda: _teacher_cell(spec, pair, teachers, cells, configs))
                        signature = json.dumps(_checked(raw, cell.name), sort_keys=True, default=str)
                        if cell.run_dir in configs and by_config.get(signature) != cell.run_dir:
                            raise ConfigError(f"cell {cell.name}: named like an earlier cell with another config "
                                              f"(two pairs or settings with the same names?); give each its own")
                        if signature in by_config:  # the same run as an earlier cell
                            earlier = next(c for c in cells if c.run_dir == by_config[signature])
                            cell.run_dir, cell.command, cell.after = earlier.run_dir, earlier.command, earlier.after
                        else:
                            by_config[signature] = cell.run_dir
                            configs[cell.run_dir] = raw
                        cells.append(cell)
    _order_shared_stages(cells, configs)
    for grid in spec.grids:
        for pair in grid.pairs:
            source = pair.teacher_checkpoint or (teachers[pair.teacher].run_dir if pair.teacher in teachers else None)
            for cell in (c for c in cells if c.grid == grid.name and c.pair == pair.name):
                cell.teacher_run = source
    return Plan(spec=spec, cells=cells, configs=configs, analyses=_analyses(spec, cells, list(teachers.values()), configs))


def _teacher_cell(spec: ExperimentSpec, pair: Pair, teachers: dict, cells: list, configs: dict) -> Optional[Cell]:
    """The run that trains ``pair``'s teacher (made on first use), or ``None`` for a checkpoint."""
    if pair.teacher_checkpoint is not None:
        return None
    if pair.teacher in teachers:
        return teachers[pair.teacher]
    name = _slug(f"teacher-{pair.teacher}")
    raw = _run_config(spec.base, name, pair.teacher, spec.teacher.seed,
                      [{"name": "teacher", "method": "supervised", "epochs": spec.teacher.epochs}])
    raw.setdefault("data", {}).update(train_fraction=1.0, label_noise=0.0)
    _apply(raw, spec.teacher.overrides, name)
    _checked(raw, name)
    cell = Cell(name=name, kind="teacher", grid=None, pair=None, model=pair.teacher, teacher=None,
                method="teacher", setting=None, seed=spec.teacher.seed, run_dir=f"{RUNS}/{name}",
                stage="teacher", command=f"sskd train --recipe plan/{name}.yaml")
    teachers[pair.teacher] = cell
    cells.append(cell)
    configs[cell.run_dir] = raw
    return cell


def _student_cell(spec: ExperimentSpec, grid: Grid, pair: Pair, method: str, setting: Setting, seed: int,
                  teacher_cell: Callable[[], Optional[Cell]]) -> tuple[Cell, dict]:
    name = _slug(f"{grid.name}.{pair.name}.{method}.{setting.label}.s{seed}")
    if spec.epochs:
        stages = row_stages(method, spec.epochs["before"], spec.epochs["student"])
    else:
        stages = method_stages(method)
    raw = _run_config(spec.base, name, pair.student, seed, stages)
    after = []
    if method_needs_teacher(stages):
        teacher = teacher_cell()
        checkpoint = pair.teacher_checkpoint or f"{teacher.run_dir}/model.safetensors"
        raw["teacher"] = {**raw.get("teacher", {}), "name": pair.teacher, "checkpoint": checkpoint}
        after = [teacher.name] if teacher else []
    _apply(raw, grid.overrides, name)
    _apply(raw, setting.overrides, name)
    cell = Cell(name=name, kind="student", grid=grid.name, pair=pair.name, model=pair.student,
                teacher=pair.teacher, method=method, setting=setting.label, seed=seed,
                run_dir=f"{RUNS}/{name}", stage=raw["stages"][-1].get("name", "train"),
                command=f"sskd train --recipe plan/{name}.yaml", after=after)
    return cell, raw


def _run_config(base: dict, name: str, model: str, seed: int, stages: list) -> dict:
    raw = copy.deepcopy(base)
    raw["model"] = {**raw.get("model", {}), "name": model}
    raw["seed"] = seed
    raw["stages"] = stages
    raw["output"] = {**raw.get("output", {}), "dir": RUNS, "name": name, "cache_dir": f"{RUNS}/cache"}
    return raw


def _apply(raw: dict, overrides: dict, cell: str) -> None:
    for key, value in overrides.items():
        try:
            apply_override(raw, f"{key}={json.dumps(value)}")
        except ConfigError as exc:
            raise ConfigError(f"cell {cell}: {exc}") from None


def _checked(raw: dict, cell: str) -> dict:
    """The effective config of ``raw`` without its run name (two cells may share a run)."""
    from sskd.engine.preflight import preflight

    try:
        config = apply_rules(config_from_dict(copy.deepcopy(raw))).validate()
        preflight(config, machine_checks=False)  # the teacher run and the device come later
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"cell {cell}: {exc}") from None
    config = config.to_dict()
    config["output"].pop("name", None)
    return config


def _order_shared_stages(cells: list[Cell], configs: dict[str, dict]) -> None:
    """Make every cell that trains the same teacher-side stages as an earlier one wait for it,
    so that those stages are trained once and then read from the stage cache (whose key
    leaves label noise out: those stages train on the clean labels)."""
    first: dict[str, Cell] = {}
    for cell in cells:
        raw = configs.get(cell.run_dir)
        if cell.kind != "student" or raw is None or len(raw["stages"]) < 2 or "teacher" not in raw:
            continue
        data = {k: v for k, v in raw.get("data", {}).items() if k != "label_noise"}  # clean labels there
        picks = any(data.get(k, d) != d for k, d in (("train_fraction", 1.0), ("val_fraction", 0.0)))
        key = json.dumps([raw["teacher"], raw["stages"][:-1], data, cell.seed if picks else None],
                         sort_keys=True, default=str)
        if key in first and first[key].run_dir != cell.run_dir:
            cell.after = [*cell.after, first[key].name]
        first.setdefault(key, cell)


def _analyses(spec: ExperimentSpec, cells: list[Cell], teachers: list[Cell],
              configs: dict[str, dict]) -> list[Analysis]:
    analyses: list[Analysis] = []
    reference = [c for c in cells if c.kind == "student" and _at_reference(spec, c)]
    teacher_names = {t.run_dir: t.name for t in teachers}
    if "similarity" in spec.analyses:
        body = spec.analyses["similarity"]
        temperatures = " ".join(f"{t:g}" for t in body.get("temperatures", [1, 4]))
        representation = body.get("representation", "pooled")
        measured = set()
        for cell in (c for c in reference if c.teacher_run):
            teacher = cell.teacher_run
            if (cell.run_dir, teacher) in measured:
                continue
            measured.add((cell.run_dir, teacher))
            stem = f"{_stem(cell)}--{_slug(Path(teacher).stem)}"
            output = f"analysis/similarity/{stem}.json"
            analyses.append(Analysis(
                name=f"similarity.{stem}", kind="similarity", cell=cell.name, output=output, teacher=teacher,
                command=(f"sskd similarity {teacher} {cell.run_dir} --teacher-model {cell.teacher}"
                         f"{_data_root(configs, cell)} --temperatures {temperatures} --representation "
                         f"{representation} --json {output}"),
                after=[cell.name] + ([teacher_names[teacher]] if teacher in teacher_names else [])))
    reference = _unique(reference)
    if "tsne" in spec.analyses:
        body = spec.analyses["tsne"]
        classes = "".join(f" {c}" for c in body.get("classes", []))
        for cell in teachers + [c for c in reference if c.seed in body.get("seeds", [0])]:
            output = f"analysis/tsne/{_stem(cell)}.png"
            analyses.append(Analysis(
                name=f"tsne.{_stem(cell)}", kind="tsne", cell=cell.name, output=output.replace(".png", ".json"),
                command=(f"sskd tsne {cell.run_dir}{_data_root(configs, cell)} --out {output} --per-class "
                         f"{body.get('per_class', 100)}" + (f" --classes{classes}" if classes else "")),
                after=[cell.name]))
    if "probe" in spec.analyses:
        body = spec.analyses["probe"]
        epochs = body.get("epochs", 100)
        milestones = " ".join(str(m) for m in dict.fromkeys(round(epochs * f) for f in (0.3, 0.6, 0.9))
                              if 0 < m < epochs)
        for target in body.get("datasets", []):
            dataset, root = target["name"], target.get("root")
            for cell in (c for c in reference if c.seed in body.get("seeds", [0])):
                output = f"analysis/probe/{_stem(cell)}.{dataset}.json"
                analyses.append(Analysis(
                    name=f"probe.{_stem(cell)}.{dataset}", kind="probe", cell=cell.name, output=output,
                    dataset=dataset,
                    command=(f"sskd probe {cell.run_dir} --dataset {dataset}"
                             + (f" --data-root {root}" if root else "")
                             + f" --epochs {epochs} --milestones {milestones}"
                             + ("" if body.get("augment", True) else " --no-augment") + f" --json {output}"),
                    after=[cell.name]))
    return analyses


def _data_root(configs: dict[str, dict], cell: Cell) -> str:
    """`` --data-root DIR`` of the data the cell's run read, or nothing for embedded data."""
    root = configs[cell.run_dir].get("data", {}).get("root")
    return f" --data-root {root}" if root else ""


def _at_reference(spec: ExperimentSpec, cell: Cell) -> bool:
    grid = next(g for g in spec.grids if g.name == cell.grid)
    return grid.sweep.reference is None or cell.setting == grid.sweep.reference


def _unique(cells: list[Cell]) -> list[Cell]:
    seen: dict[str, Cell] = {}
    for cell in cells:
        seen.setdefault(cell.run_dir, cell)
    return list(seen.values())


def _stem(cell: Cell) -> str:
    return cell.run_dir.rsplit("/", 1)[-1]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text)
