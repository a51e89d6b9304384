"""An experiment folder's numbers, read from its files alone, as plain dataclasses.

:func:`collect_experiment` reads ``plan.json``, each cell's ``summary.json`` and the
analyses' JSON files (see ``sskd experiment``) and returns an :class:`Experiment`:
per-cell last- and best-epoch test top-1, each grid's mean ± std over seeds, and the
similarity, t-SNE and linear-probe results. Nothing is written; torch is never imported.
"""

from __future__ import annotations

import json
import statistics
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from sskd.errors import UserError

PLAN_FORMAT = 1


class ExperimentFileError(UserError):
    """A file of the experiment folder that cannot be read as the contract says; names the file."""


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (``None`` with one value) and count of some values."""

    mean: float
    std: Optional[float]
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Optional["Stat"]:
        """The statistics of ``values``, or ``None`` when there are none."""
        if not values:
            return None
        std = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), std, len(values))


@dataclass
class Cell:
    """One planned training run and, once finished, its reported stage's test top-1."""

    name: str
    kind: str
    grid: Optional[str]
    pair: Optional[str]
    model: str
    method: str
    setting: Optional[str]
    seed: int
    stage: str
    command: str
    run_dir: Path
    teacher_run: Optional[str] = None
    finished: bool = False
    last_top1: Optional[float] = None
    best_top1: Optional[float] = None
    selected_on: Optional[str] = None


@dataclass(frozen=True)
class Setting:
    """One value of a grid's sweep: its label and, when numeric, its position ``x``."""

    label: str
    x: Optional[float]


@dataclass
class GridRow:
    """One (pair, method) of a grid: last- and best-epoch statistics by setting label."""

    pair: str
    method: str
    last: dict[str, Optional[Stat]]
    best: dict[str, Optional[Stat]]


@dataclass
class Grid:
    """A sweep of settings over (pair, method) rows, each entry over the finished seeds."""

    name: str
    title: str
    sweep_label: str
    settings: list[Setting]
    reference: Optional[str]
    rows: list[GridRow]
    cells: list[Cell]

    @property
    def unfinished(self) -> list[Cell]:
        return [c for c in self.cells if not c.finished]

    @property
    def pairs(self) -> list[str]:
        return list(dict.fromkeys(r.pair for r in self.rows))


@dataclass
class Analysis:
    """A planned analysis; ``done`` when its output file exists."""

    name: str
    kind: str
    cell: str
    output: Path
    command: str
    dataset: Optional[str] = None
    teacher: Optional[str] = None

    @property
    def done(self) -> bool:
        return self.output.is_file()


@dataclass
class SimilarityRow:
    """Teacher-student closeness of one (grid, pair, method, setting) over seeds."""

    grid: str
    pair: str
    method: str
    setting: str
    kl: dict[str, Optional[Stat]]
    cka: Optional[Stat]


@dataclass
class Similarity:
    """The similarity table: KL columns in order, rows, and what the files say was measured."""

    kl_columns: list[str] = field(default_factory=list)
    rows: list[SimilarityRow] = field(default_factory=list)
    representations: list[str] = field(default_factory=list)
    estimators: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    not_run: list[Analysis] = field(default_factory=list)


@dataclass
class TsneMap:
    """One finished t-SNE analysis: its picture and silhouettes."""

    name: str
    cell: str
    model: str
    method: str
    png: Optional[Path]
    silhouette_embedding: float
    silhouette_2d: float
    dataset: str
    split: str


@dataclass
class ProbeRow:
    """Linear-probe top-1 of one (pair, method, model), by probe dataset: (last, best) statistics."""

    pair: str
    method: str
    model: str
    scores: dict[str, tuple[Optional[Stat], Optional[Stat]]]


@dataclass
class Probes:
    datasets: list[str] = field(default_factory=list)
    rows: list[ProbeRow] = field(default_factory=list)
    selected_on: list[str] = field(default_factory=list)


@dataclass
class Experiment:
    """Everything the report shows about one experiment folder."""

    path: Path
    title: str
    paper: Optional[str]
    description: Optional[str]
    cells: list[Cell]
    grids: list[Grid]
    analyses: list[Analysis]
    similarity: Similarity
    tsne: list[TsneMap]
    probes: Probes

    @property
    def teachers(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "teacher"]

    @property
    def seeds(self) -> list[int]:
        return sorted({c.seed for c in self.cells})

    @property
    def selected_on(self) -> dict[str, int]:
        """How many finished cells chose their best epoch on each key."""
        counts: dict[str, int] = {}
        for c in self.cells:
            if c.selected_on:
                counts[c.selected_on] = counts.get(c.selected_on, 0) + 1
        return counts


def read_json(path: Path) -> Any:
    """The JSON in ``path``; a file that cannot be parsed is a ValueError naming it."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExperimentFileError(f"{path}: not valid JSON ({exc})") from None


@contextmanager
def blame(path: Path) -> Iterator[None]:
    """Turn a missing key or wrong type met while reading ``path`` into a ValueError naming it."""
    try:
        yield
    except ExperimentFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ExperimentFileError(f"{path}: unexpected content ({exc!r})") from None


def read_plan(exp_dir: Path) -> dict[str, Any]:
    """``exp_dir/plan.json``, checked to exist and to be of a known format."""
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"{exp_dir}: no such folder")
    path = exp_dir / "plan.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (is {exp_dir} an experiment folder?)")
    plan = read_json(path)
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        found = plan.get("format") if isinstance(plan, dict) else type(plan).__name__
        raise ExperimentFileError(f"{path}: unknown plan format {found!r} (expected {PLAN_FORMAT})")
    return plan


def read_cell(entry: dict[str, Any], exp_dir: Path) -> Cell:
    """A plan cell and, when its ``summary.json`` exists, its reported stage's scores."""
    cell = Cell(name=entry["name"], kind=entry["kind"], grid=entry.get("grid"), pair=entry.get("pair"),
                model=entry["model"], method=entry["method"], setting=entry.get("setting"),
                seed=entry["seed"], stage=entry["stage"], command=entry["command"],
                run_dir=exp_dir / entry["run_dir"], teacher_run=entry.get("teacher_run"))
    path = cell.run_dir / "summary.json"
    if not path.is_file():
        return cell
    with blame(path):
        stage = read_json(path)["stages"][cell.stage]
        if "cached_from" in stage:  # a stage reused from a cache keeps only its final scores
            cell.last_top1 = float(stage["scores"]["test/top1"])
        else:
            cell.last_top1 = float(stage["last_epoch"]["test/top1"])
            cell.best_top1 = float(stage["best_epoch"]["test/top1"])
            cell.selected_on = stage["best_epoch"]["selected_on"]
    cell.finished = True
    return cell


def build_grid(entry: dict[str, Any], cells: list[Cell]) -> Grid:
    """A grid's rows, (pair, method) in plan order, each setting over the finished seeds."""
    settings = [Setting(str(v["label"]), None if v.get("x") is None else float(v["x"]))
                for v in entry["sweep"]["values"]]
    mine = [c for c in cells if c.grid == entry["name"]]
    rows = []
    for pair, method in dict.fromkeys((c.pair, c.method) for c in mine):
        done = [c for c in mine if (c.pair, c.method) == (pair, method) and c.finished]
        rows.append(GridRow(pair, method,
                            last={s.label: Stat.of([c.last_top1 for c in done if c.setting == s.label])
                                  for s in settings},
                            best={s.label: Stat.of([c.best_top1 for c in done if c.setting == s.label
                                                    and c.best_top1 is not None]) for s in settings}))
    return Grid(entry["name"], entry.get("title") or entry["name"], entry["sweep"]["label"], settings,
                entry.get("reference"), rows, mine)


def kl_label(direction: str, temperature: float, t_squared: bool) -> str:
    """Column label of one KL entry, e.g. ``KL(T‖S), T=1``."""
    sides = {"teacher||student": "KL(T‖S)", "student||teacher": "KL(S‖T)"}.get(direction, f"KL({direction})")
    return f"{'T²·' if t_squared else ''}{sides}, T={temperature:g}"


def collect_similarity(analyses: list[Analysis], grids: list[Grid], cells: dict[str, Cell]) -> Similarity:
    """The similarity results of each grid's reference cells (all its cells without a reference).

    An analysis measures a run against a teacher; cells of several grids or pairs that share
    that run and that teacher all get its result.
    """
    out = Similarity()
    by_run = {(cells[a.cell].run_dir, a.teacher): a for a in analyses if a.kind == "similarity" and a.cell in cells}
    found: dict[tuple, dict[str, list[float]]] = {}
    for grid in grids:
        for cell in grid.cells:
            a = by_run.get((cell.run_dir, cell.teacher_run))
            if a is None or (grid.reference is not None and cell.setting != grid.reference):
                continue
            if not a.done:
                out.not_run += [] if a in out.not_run else [a]
                continue
            values = found.setdefault((grid.name, cell.pair, cell.method, cell.setting), {})
            with blame(a.output):
                data = read_json(a.output)
                for k in sorted(data["kl"], key=lambda k: (k["t_squared"], k["temperature"])):
                    label = kl_label(data["kl_direction"], k["temperature"], k["t_squared"])
                    out.kl_columns.append(label)
                    values.setdefault(label, []).append(float(k["value"]))
                values.setdefault("cka", []).append(float(data["cka"]))
                out.representations.append(data["representation"])
                out.estimators.append(data["cka_estimator"])
                out.sources.append(f"{data['dataset']} {data['split']} ({data['images']} images)")
    out.kl_columns = list(dict.fromkeys(out.kl_columns))
    out.representations = list(dict.fromkeys(out.representations))
    out.estimators = list(dict.fromkeys(out.estimators))
    out.sources = list(dict.fromkeys(out.sources))
    out.rows = [SimilarityRow(*key, kl={c: Stat.of(v.get(c, [])) for c in out.kl_columns}, cka=Stat.of(v["cka"]))
                for key, v in found.items()]
    return out


def collect_tsne(analyses: list[Analysis], cells: dict[str, Cell]) -> list[TsneMap]:
    """The finished t-SNE analyses; ``png`` is ``None`` when the picture is missing."""
    maps = []
    for a in (a for a in analyses if a.kind == "tsne" and a.done):
        cell = cells.get(a.cell)
        with blame(a.output):
            data = read_json(a.output)
            png = a.output.parent / data["png"]
            maps.append(TsneMap(a.name, a.cell, data["model"], cell.method if cell else "—",
                                png if png.is_file() else None, float(data["silhouette_embedding"]),
                                float(data["silhouette_2d"]), data["dataset"], data["split"]))
    return maps


def collect_probes(analyses: list[Analysis], cells: dict[str, Cell]) -> Probes:
    """Linear-probe top-1 by (cell's pair, method, model) and probe dataset, over the finished probes."""
    out = Probes()
    found: dict[tuple[str, str], dict[str, tuple[list[float], list[float]]]] = {}
    for a in (a for a in analyses if a.kind == "probe" and a.done):
        cell = cells.get(a.cell)
        with blame(a.output):
            data = read_json(a.output)
            dataset = a.dataset or data["dataset"]
            row = (cell.pair if cell else "—", cell.method if cell else "—", data["model"])
            last, best = found.setdefault(row, {}).setdefault(dataset, ([], []))
            last.append(float(data["last_epoch"]["test/top1"]))
            best.append(float(data["best_epoch"]["test/top1"]))
            out.selected_on.append(data["best_epoch"]["selected_on"])
        out.datasets.append(dataset)
    out.datasets = list(dict.fromkeys(out.datasets))
    out.selected_on = list(dict.fromkeys(out.selected_on))
    out.rows = [ProbeRow(pair, method, model, {d: (Stat.of(v[d][0]), Stat.of(v[d][1])) if d in v else (None, None)
                                               for d in out.datasets})
                for (pair, method, model), v in found.items()]
    return out


def collect_experiment(exp_dir: str | Path) -> Experiment:
    """Read the experiment folder ``exp_dir`` (plan, summaries, analyses) into an :class:`Experiment`."""
    exp_dir = Path(exp_dir)
    plan = read_plan(exp_dir)
    with blame(exp_dir / "plan.json"):
        cells = [read_cell(c, exp_dir) for c in plan["cells"]]
        grids = [build_grid(g, cells) for g in plan.get("grids", [])]
        analyses = [Analysis(a["name"], a["kind"], a["cell"], exp_dir / a["output"], a["command"], a.get("dataset"),
                             a.get("teacher")) for a in plan.get("analyses", [])]
    by_name = {c.name: c for c in cells}
    about = plan.get("about") or {}
    return Experiment(exp_dir, plan.get("title") or exp_dir.name, about.get("paper"), about.get("description"),
                      cells, grids, analyses, collect_similarity(analyses, grids, by_name),
                      collect_tsne(analyses, by_name), collect_probes(analyses, by_name))
