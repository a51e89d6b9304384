"""An experiment file: the grid ``sskd experiment`` runs.

An experiment is methods × teacher–student pairs × seeds × one swept setting per grid,
each cell an ordinary run. The file (YAML, read with ``safe_load``) holds::

    title: "..."                      # the report's heading
    about: {paper: "...", description: "..."}
    base: {...}                       # a run config every cell starts from (any run key)
    teacher: {epochs: 240, seed: 0, set: {...}}   # each teacher's own run, full clean data
    pairs: [{teacher: resnet56, student: resnet20, teacher_checkpoint: optional path}]
    methods: [KD, SSKD, ...]          # table rows (sskd.experiments.rows): CE, KD, FitNet+KD, ...
    seeds: [0, 1, 2]
    epochs: {before: 3, student: 8}   # optional: shorten every method's stages
    grids:
      few_shot:
        title: "Few-shot (SSKD Fig. 4a)"
        sweep: {label: training fraction, key: data.train_fraction, values: [0.25, 1.0], reference: 1.0}
        # or keys: [k1, k2] set together, or variants: {NAME: {key: value, ...}, ...}
        methods / pairs / seeds: optional, replace the top-level ones for this grid
        set: {key: value}             # optional, for every cell of the grid
    analyses:
      similarity: {temperatures: [1, 4], representation: pooled}
      tsne: {per_class: 100, seeds: [0]}
      probe: {datasets: [{name: stl10, root: DIR}], epochs: 100, augment: true, seeds: [0]}

Everything is checked when the file is read: an unknown key, method, grid or value is
refused, naming it, before any run starts.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from sskd.config import RECIPES_DIR, ConfigError, apply_override, read_yaml_mapping
from sskd.data.registry import canonical_dataset

EXPERIMENTS_DIR = RECIPES_DIR / "experiments"
TOP_KEYS = ("title", "about", "base", "teacher", "pairs", "methods", "seeds", "epochs", "grids", "analyses")
GRID_KEYS = ("title", "sweep", "methods", "pairs", "seeds", "set")
SWEEP_KEYS = ("label", "key", "keys", "values", "variants", "reference")
TEACHER_KEYS = ("epochs", "seed", "set")
PAIR_KEYS = ("teacher", "student", "teacher_checkpoint")
EPOCH_KEYS = ("before", "student")
ANALYSIS_KEYS = {"similarity": ("temperatures", "representation"),
                 "tsne": ("per_class", "seeds", "classes"),
                 "probe": ("datasets", "epochs", "augment", "seeds")}


@dataclass(frozen=True)
class Setting:
    """One value of a grid's sweep: its label (a column of the report), its position on a
    numeric axis (``None`` for a named variant) and the config keys it sets."""

    label: str
    x: Optional[float]
    overrides: dict


@dataclass
class Sweep:
    label: str
    settings: list[Setting]
    reference: Optional[str] = None


@dataclass(frozen=True)
class Pair:
    teacher: str
    student: str
    teacher_checkpoint: Optional[str] = None

    @property
    def name(self) -> str:
        return f"{self.teacher}-{self.student}"


@dataclass
class Grid:
    name: str
    title: str
    sweep: Sweep
    methods: list[str]
    pairs: list[Pair]
    seeds: list[int]
    overrides: dict = field(default_factory=dict)


@dataclass
class TeacherPlan:
    epochs: int = 240
    seed: int = 0
    overrides: dict = field(default_factory=dict)


@dataclass
class ExperimentSpec:
    title: str
    about: dict
    base: dict
    teacher: TeacherPlan
    grids: list[Grid]
    epochs: Optional[dict]
    analyses: dict
    raw: dict  # the file as read (overrides applied), saved with the experiment


def list_experiments() -> list[str]:
    """Names of the experiment files shipped with sskd (``sskd experiment --recipe NAME``)."""
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def read_experiment_file(source: Union[str, Path], overrides: tuple = ()) -> dict:
    """The experiment file ``source`` (a path, or a shipped experiment's name) as plain data,
    with ``overrides`` (``"key=value"``, e.g. ``seeds=[0]`` or ``base.data.root=DIR``) applied."""
    path = Path(source)
    if not path.is_file() and (EXPERIMENTS_DIR / f"{source}.yaml").is_file():
        path = EXPERIMENTS_DIR / f"{source}.yaml"
    if not path.is_file():
        raise ConfigError(f"experiment {str(source)!r}: no such file, nor a shipped experiment "
                          f"({', '.join(list_experiments())})")
    raw = read_yaml_mapping(path, "experiment")
    for assignment in overrides:
        apply_override(raw, assignment)
    return raw


def parse_experiment(raw: dict) -> ExperimentSpec:
    """Check ``raw`` (see the module docstring) and build the experiment."""
    from sskd.experiments.rows import row_label

    raw = copy.deepcopy(raw)
    _known(raw, TOP_KEYS, "experiment")
    base = _mapping(raw.get("base", {}), "base")
    _absolute_paths(raw)
    pairs = _pairs(raw["pairs"], "pairs") if "pairs" in raw else []
    methods = [row_label(str(m)) for m in _list(raw["methods"], "methods")] if "methods" in raw else []
    seeds = _seeds(raw.get("seeds", [0]), "seeds")
    grids_raw = _mapping(raw.get("grids"), "grids")
    if not grids_raw:
        raise ConfigError("grids: an experiment needs at least one grid")
    grids = []
    for name, body in grids_raw.items():
        key = f"grids.{name}"
        body = _mapping(body, key)
        _known(body, GRID_KEYS, key)
        grid_methods = ([row_label(str(m)) for m in _list(body["methods"], f"{key}.methods")]
                        if "methods" in body else methods)
        grids.append(Grid(
            name=_slug(name, key), title=str(body.get("title", name)), sweep=_sweep(body.get("sweep"), f"{key}.sweep"),
            methods=grid_methods, pairs=_pairs(body["pairs"], f"{key}.pairs") if "pairs" in body else pairs,
            seeds=_seeds(body["seeds"], f"{key}.seeds") if "seeds" in body else seeds,
            overrides=_mapping(body.get("set", {}), f"{key}.set")))
        if not grids[-1].methods or not grids[-1].pairs:
            raise ConfigError(f"{key}: needs methods and pairs (here or at the top level)")
    teacher_raw = _mapping(raw.get("teacher", {}), "teacher")
    _known(teacher_raw, TEACHER_KEYS, "teacher")
    teacher = TeacherPlan(epochs=_count(teacher_raw.get("epochs", 240), "teacher.epochs"),
                          seed=_seeds([teacher_raw.get("seed", 0)], "teacher.seed")[0],
                          overrides=_mapping(teacher_raw.get("set", {}), "teacher.set"))
    epochs = raw.get("epochs")
    if epochs is not None:
        epochs = _mapping(epochs, "epochs")
        _known(epochs, EPOCH_KEYS, "epochs")
        epochs = {k: _count(epochs.get(k), f"epochs.{k}") for k in EPOCH_KEYS}
    analyses = _mapping(raw.get("analyses", {}), "analyses")
    for name, body in analyses.items():
        if name not in ANALYSIS_KEYS:
            raise ConfigError(f"analyses.{name}: unknown analysis; known: {', '.join(ANALYSIS_KEYS)}")
        _known(_mapping(body or {}, f"analyses.{name}"), ANALYSIS_KEYS[name], f"analyses.{name}")
    _check_analyses(analyses)
    for i, target in enumerate((analyses.get("probe") or {}).get("datasets", [])):
        if not isinstance(target, dict) or "name" not in target or set(target) - {"name", "root"}:
            raise ConfigError(f"analyses.probe.datasets.{i}: expected {{name: DATASET, root: DIR}}, got {target!r}")
        try:
            canonical_dataset(target["name"])
        except ValueError as exc:
            raise ConfigError(f"analyses.probe.datasets.{i}: {exc}") from None
    probe_epochs = (analyses.get("probe") or {}).get("epochs", 100)
    _count(probe_epochs, "analyses.probe.epochs")
    return ExperimentSpec(title=str(raw.get("title", "experiment")), about=_mapping(raw.get("about", {}), "about"),
                          base=base, teacher=teacher, grids=grids, epochs=epochs,
                          analyses={k: dict(v or {}) for k, v in analyses.items()}, raw=raw)


def _check_analyses(analyses: dict) -> None:
    similarity = analyses.get("similarity") or {}
    temperatures = similarity.get("temperatures", [1])
    if not isinstance(temperatures, list) or not temperatures or any(
            isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0 for t in temperatures):
        raise ConfigError(f"analyses.similarity.temperatures: expected a list of numbers > 0, got {temperatures!r}")
    if similarity.get("representation", "pooled") not in ("pooled", "logits"):
        raise ConfigError(f"analyses.similarity.representation: pooled or logits, got "
                          f"{similarity['representation']!r}")
    tsne = analyses.get("tsne") or {}
    _count(tsne.get("per_class", 100), "analyses.tsne.per_class")
    for name in ("tsne", "probe"):
        _seeds((analyses.get(name) or {}).get("seeds", [0]), f"analyses.{name}.seeds")
    if "classes" in tsne:
        _seeds(tsne["classes"], "analyses.tsne.classes")
    augment = (analyses.get("probe") or {}).get("augment", True)
    if not isinstance(augment, bool):
        raise ConfigError(f"analyses.probe.augment: true or false, got {augment!r}")


PATH_KEYS = ("data.root", "teacher.checkpoint")


def _absolute_paths(raw: dict) -> None:
    """Paths given relative to where ``sskd experiment`` runs (data roots, teacher checkpoints,
    in ``base``, ``pairs``, the probe's data sets and any ``set``, sweep or variant of
    :data:`PATH_KEYS`), made absolute in ``raw``: the cells run from the experiment folder."""
    data = (raw.get("base") or {}).get("data") or {}
    if isinstance(data, dict) and data.get("root"):
        data["root"] = str(Path(data["root"]).resolve())
    grids = raw.get("grids") if isinstance(raw.get("grids"), dict) else {}
    grid_pairs = [p for g in grids.values() if isinstance(g, dict) for p in g.get("pairs") or []]
    for pair in (raw.get("pairs") or []) + grid_pairs:
        if isinstance(pair, dict) and pair.get("teacher_checkpoint"):
            pair["teacher_checkpoint"] = str(Path(pair["teacher_checkpoint"]).resolve())
    for target in ((raw.get("analyses") or {}).get("probe") or {}).get("datasets") or []:
        if isinstance(target, dict) and target.get("root"):
            target["root"] = str(Path(target["root"]).resolve())
    override_sets = [(raw.get("teacher") or {}).get("set")]
    for grid in grids.values():
        if isinstance(grid, dict):
            sweep = grid.get("sweep") if isinstance(grid.get("sweep"), dict) else {}
            override_sets += [grid.get("set"), *(sweep.get("variants") or {}).values()]
            keys = [sweep["key"]] if "key" in sweep else sweep.get("keys") or []
            if any(k in PATH_KEYS for k in keys) and isinstance(sweep.get("values"), list):
                sweep["values"] = [str(Path(v).resolve()) if isinstance(v, str) else v for v in sweep["values"]]
    for overrides in (o for o in override_sets if isinstance(o, dict)):
        for key in (k for k in overrides if k in PATH_KEYS and isinstance(overrides[k], str)):
            overrides[key] = str(Path(overrides[key]).resolve())


def _sweep(raw: Any, key: str) -> Sweep:
    raw = _mapping(raw, key)
    _known(raw, SWEEP_KEYS, key)
    if "variants" in raw:
        if "key" in raw or "keys" in raw or "values" in raw:
            raise ConfigError(f"{key}: give either variants or key(s) with values, not both")
        variants = _mapping(raw["variants"], f"{key}.variants")
        settings = [Setting(str(name), None, _mapping(sets or {}, f"{key}.variants.{name}"))
                    for name, sets in variants.items()]
        label = str(raw.get("label", "variant"))
    else:
        if ("key" in raw) == ("keys" in raw):
            raise ConfigError(f"{key}: give key (one config key), keys (several set together) or variants")
        keys = [raw["key"]] if "key" in raw else _list(raw["keys"], f"{key}.keys")
        settings = [Setting(_value_label(v), _number(v), {str(k): v for k in keys})
                    for v in _list(raw.get("values"), f"{key}.values")]
        label = str(raw.get("label", keys[0]))
    labels = [s.label for s in settings]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{key}: settings must differ, got {labels}")
    reference = raw.get("reference")
    if reference is not None:
        reference = _value_label(reference)
        if reference not in labels:
            raise ConfigError(f"{key}.reference: {reference!r} is not one of the settings {labels}")
    return Sweep(label=label, settings=settings, reference=reference)


def _value_label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pairs(raw: Any, key: str) -> list[Pair]:
    pairs = []
    for i, item in enumerate(_list(raw, key)):
        item = _mapping(item, f"{key}.{i}")
        _known(item, PAIR_KEYS, f"{key}.{i}")
        if "teacher" not in item or "student" not in item:
            raise ConfigError(f"{key}.{i}: a pair names a teacher and a student, got {item}")
        checkpoint = item.get("teacher_checkpoint")
        if checkpoint is not None and not Path(checkpoint).is_file():
            raise ConfigError(f"{key}.{i}.teacher_checkpoint: no such file {checkpoint!r}")
        pairs.append(Pair(str(item["teacher"]), str(item["student"]), checkpoint))
    return pairs


def _seeds(raw: Any, key: str) -> list[int]:
    seeds = _list(raw, key)
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ConfigError(f"{key}: seeds are integers >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{key}: seeds repeat, got {seeds}")
    return seeds


def _count(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}: expected an integer >= 1, got {value!r}")
    return value


def _slug(name: Any, key: str) -> str:
    text = str(name)
    if not text or any(not (c.isalnum() or c in "_-") for c in text):
        raise ConfigError(f"{key}: a grid name uses letters, digits, '_' and '-' only, got {text!r}")
    return text


def _known(raw: dict, keys: tuple, where: str) -> None:
    unknown = [k for k in raw if k not in keys]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(keys)}")


def _mapping(raw: Any, key: str) -> dict:
    if raw is None:
        raise ConfigError(f"{key}: missing")
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: expected a mapping, got {type(raw).__name__} {raw!r}")
    return raw


def _list(raw: Any, key: str) -> list:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{key}: expected a non-empty list, got {raw!r}")
    return raw
