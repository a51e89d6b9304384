"""Typed run configuration: YAML recipe + overrides, validated before anything runs.

A run is ``RunConfig``: data, model, speed switches, output, and a list of stages.
Every value is checked against its declared type and range, and an unknown key, a
wrong type or an impossible value raises :class:`ConfigError` naming the key, e.g.
``stages[0].lr: must be > 0, got -0.1``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from sskd.errors import UserError


class ConfigError(UserError):
    """An invalid configuration; the message starts with the offending key."""


class _NotFinite(ConfigError):
    """A NaN or infinite number where a float goes (not retried as another type)."""


@dataclass
class DataConfig:
    """Which data, how it is batched, and how the training set is reduced or corrupted.

    ``batch_size`` is the global batch (split over processes under torchrun);
    ``val_fraction`` holds out a class-balanced validation split; ``train_fraction``
    (few-shot) and ``label_noise`` apply to what remains for training; ``on_device``
    keeps in-memory data sets on the training device as uint8. ``image_size``: the side
    image folders are read at (default: the teacher's input size, see :mod:`sskd.rules`);
    ``check_images``: open every file of an image folder before training, so an unreadable
    one is named before the run starts rather than met mid-epoch.
    """

    name: str = "digits"
    root: Optional[str] = None
    batch_size: int = 64
    eval_batch_size: int = 256
    drop_last: bool = False
    workers: Optional[int] = None
    val_fraction: float = 0.0
    train_fraction: float = 1.0
    label_noise: float = 0.0
    on_device: bool = True
    image_size: Optional[int] = None
    check_images: bool = True

    def validate(self, key: str) -> None:
        _positive(self.batch_size, f"{key}.batch_size")
        _positive(self.eval_batch_size, f"{key}.eval_batch_size")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"{key}.workers: must be >= 0, got {self.workers}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"{key}.val_fraction: must be in [0, 1), got {self.val_fraction}")
        if not 0.0 < self.train_fraction <= 1.0:
            raise ConfigError(f"{key}.train_fraction: must be in (0, 1], got {self.train_fraction}")
        if not 0.0 <= self.label_noise <= 1.0:
            raise ConfigError(f"{key}.label_noise: must be in [0, 1], got {self.label_noise}")
        if self.image_size is not None:
            _positive(self.image_size, f"{key}.image_size")


@dataclass
class ModelConfig:
    name: str = "resnet8"
    args: dict = field(default_factory=dict)

    def validate(self, key: str) -> None:
        if not self.name:
            raise ConfigError(f"{key}.name: must name a model (see `sskd models`)")


@dataclass
class TeacherConfig:
    """The pretrained network a distillation method learns from (unused by ``supervised``).

    ``checkpoint``: a run's ``model.safetensors`` or a checkpoint of the original code.
    """

    name: Optional[str] = None
    checkpoint: Optional[str] = None
    args: dict = field(default_factory=dict)

    def validate(self, key: str) -> None:
        if self.checkpoint is not None and self.name is None:
            raise ConfigError(f"{key}.name: a teacher checkpoint needs the teacher's network name")


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: The torch.compile modes that record CUDA graphs (static shapes only).
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


@dataclass
class SpeedConfig:
    """How the training step runs; none of these changes what is computed.

    ``amp``: mixed precision of the forward passes; ``channels_last``: memory format of the
    networks and batches; ``compile``: ``torch.compile`` the method's forward (and its
    backward) with ``compile_mode`` (``reduce-overhead``: CUDA graphs, which need static
    shapes: also set ``data.drop_last``); ``fused_optimizer``: one fused SGD/AdamW kernel
    per step on CUDA (ignored elsewhere); ``frozen_rows``: rows per forward pass of a
    frozen network (teacher, its head or branches) and of every network under evaluation,
    ``None``: 64 on a CPU, the whole batch on an accelerator, 0: the whole batch."""

    amp: str = "none"
    channels_last: bool = False
    compile: bool = False
    compile_mode: str = "default"
    fused_optimizer: bool = True
    deterministic: bool = False
    frozen_rows: Optional[int] = None

    def validate(self, key: str) -> None:
        if self.amp not in ("none", "bf16", "fp16"):
            raise ConfigError(f"{key}.amp: must be one of none, bf16, fp16; got {self.amp!r}")
        if self.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"{key}.compile_mode: must be one of {', '.join(COMPILE_MODES)}; "
                              f"got {self.compile_mode!r}")
        if self.frozen_rows is not None and (isinstance(self.frozen_rows, bool) or self.frozen_rows < 0):
            raise ConfigError(f"{key}.frozen_rows: must be an integer >= 0 (0: the whole batch) or null; "
                              f"got {self.frozen_rows!r}")


@dataclass
class OutputConfig:
    """Where a run writes. ``cache``: stages whose result depends only on a frozen teacher
    checkpoint and their own settings (SSKD's teacher head) are trained once and reused from
    ``cache_dir`` (default ``<dir>/cache``)."""

    dir: str = "runs"
    name: Optional[str] = None
    keep_checkpoints: int = 2
    log_every: int = 20
    tensorboard: bool = True
    progress: str = "auto"
    cache: bool = True
    cache_dir: Optional[str] = None

    def validate(self, key: str) -> None:
        _positive(self.keep_checkpoints, f"{key}.keep_checkpoints")
        _positive(self.log_every, f"{key}.log_every")
        if self.progress not in ("auto", "bar", "lines", "none"):
            raise ConfigError(f"{key}.progress: must be auto, bar, lines or none; got {self.progress!r}")


@dataclass
class StageConfig:
    """One phase of a run: its method, epochs, optimiser and learning-rate schedule.

    Defaults are the papers' CIFAR recipe: SGD lr 0.05 (0.01 for MobileNetV2 and the
    ShuffleNets), momentum 0.9, weight decay 5e-4, 240 epochs, ×0.1 at epochs 150/180/210 (stepped once per epoch). ``milestones: null``
    (the default) scales that schedule to the stage's epochs.

    ``optimizer``: ``sgd`` or ``adamw`` (Loshchilov & Hutter, 2019: ``weight_decay`` is
    decoupled; ``momentum`` and ``nesterov`` are SGD's). ``schedule``: ``step`` (×``gamma``
    at each milestone) or ``cosine`` (from ``lr`` towards 0 over the epochs after warm-up;
    takes no milestones, ``gamma`` is unused). ``warmup_epochs`` W: epoch e < W (0-based)
    uses ``lr·(e+1)/(W+1)``, then the schedule (see :func:`sskd.engine.optim.stage_lr`).
    ``label_smoothing``: of every cross-entropy against the class labels (Szegedy et al.,
    2016), not of the distillation or self-supervised terms. ``seed`` fixes the stage's
    randomness (initialisation, batch order, augmentation) independently of the run's
    seed, e.g. so that SSKD's teacher head is the same for every student seed (SSKD.md §2.2).
    ``select``: the epoch whose weights the stage hands on, ``last`` or the one with the
    highest value of an epoch metric such as ``val/top1``.
    """

    name: str = "train"
    method: str = "supervised"
    epochs: int = 240
    lr: Optional[float] = None  # None: the network's and optimiser's default, see sskd.rules
    momentum: float = 0.9
    weight_decay: Optional[float] = None  # None: 5e-4 with SGD, 0.05 with AdamW
    nesterov: bool = False
    optimizer: str = "sgd"
    schedule: str = "step"
    warmup_epochs: int = 0
    milestones: Optional[list] = None
    gamma: float = 0.1
    label_smoothing: float = 0.0
    seed: Optional[int] = None
    select: str = "last"
    args: dict = field(default_factory=dict)

    def validate(self, key: str) -> None:
        _positive(self.epochs, f"{key}.epochs")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"{key}.lr: must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"{key}.momentum: must be in [0, 1), got {self.momentum}")
        if self.weight_decay is not None and self.weight_decay < 0:
            raise ConfigError(f"{key}.weight_decay: must be >= 0, got {self.weight_decay}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"{key}.optimizer: must be sgd or adamw, got {self.optimizer!r}")
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(f"{key}.nesterov: SGD only, not with optimizer {self.optimizer!r}")
        if self.nesterov and self.momentum == 0:
            raise ConfigError(f"{key}.nesterov: needs momentum > 0")
        if self.schedule not in ("step", "cosine"):
            raise ConfigError(f"{key}.schedule: must be step or cosine, got {self.schedule!r}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"{key}.warmup_epochs: must be in [0, epochs={self.epochs}), "
                              f"got {self.warmup_epochs}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"{key}.label_smoothing: must be in [0, 1), got {self.label_smoothing}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"{key}.gamma: must be in (0, 1], got {self.gamma}")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"{key}.seed: must be >= 0, got {self.seed}")
        if self.select != "last" and not self.select.startswith(("val/", "test/", "train/")):
            raise ConfigError(f"{key}.select: 'last' or an epoch metric such as 'val/top1', got {self.select!r}")
        if self.schedule == "cosine":
            if self.milestones:
                raise ConfigError(f"{key}.milestones: the cosine schedule takes none (they are the "
                                  f"step schedule's), got {self.milestones}; clear them with "
                                  f"milestones: [] (--milestones with no value)")
            self.milestones = []
        scaled = self.milestones is None
        if scaled:
            self.milestones = scaled_milestones(self.epochs)
        for i, m in enumerate(self.milestones):
            if not isinstance(m, int) or isinstance(m, bool):
                raise ConfigError(f"{key}.milestones[{i}]: must be an integer epoch, got {m!r}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ConfigError(f"{key}.milestones: must be strictly increasing, got {self.milestones}")
        late = [m for m in self.milestones if not self.warmup_epochs < m < self.epochs]
        if late:
            raise ConfigError(f"{key}.milestones: {late} not inside (warmup_epochs={self.warmup_epochs}, "
                              f"epochs={self.epochs}){' (the default, scaled to the epochs)' if scaled else ''}")


@dataclass
class AboutConfig:
    """What a recipe reproduces and what it assumes; shown by ``sskd recipes``, kept in the
    run's ``config.yaml``. ``teacher_checkpoint`` says whose teacher the expected accuracy
    was obtained with (the SSKD and CRD authors' teachers differ by up to a point), and
    ``teacher_top1`` that teacher's published test top-1."""

    title: str = ""
    reference: Optional[str] = None
    expected_top1: Optional[float] = None
    expected_std: Optional[float] = None
    teacher_checkpoint: Optional[str] = None
    teacher_top1: Optional[float] = None
    table: Optional[str] = None  # the paper table this recipe is a row of; `sskd recipes` groups by it


@dataclass
class RunConfig:
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    stages: list = field(default_factory=lambda: [StageConfig()])
    about: AboutConfig = field(default_factory=AboutConfig)

    def validate(self) -> "RunConfig":
        if self.seed < 0:
            raise ConfigError(f"seed: must be >= 0, got {self.seed}")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise ConfigError(f"device: must be auto, cpu, cuda, cuda:N or mps; got {self.device!r}")
        self.data.validate("data")
        self.model.validate("model")
        self.teacher.validate("teacher")
        self.speed.validate("speed")
        self.output.validate("output")
        if self.speed.compile_mode != "default" and not self.speed.compile:
            raise ConfigError(f"speed.compile_mode: {self.speed.compile_mode!r} applies to a compiled step; "
                              f"also set speed.compile (--compile)")
        if self.speed.compile_mode in CUDA_GRAPH_MODES and not self.data.drop_last:
            raise ConfigError(f"speed.compile_mode: {self.speed.compile_mode!r} records CUDA graphs, which need "
                              f"every batch the same size; also set data.drop_last (--drop-last)")
        if not self.stages:
            raise ConfigError("stages: a run needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ConfigError(f"stages: stage names must be unique, got {names}")
        for i, stage in enumerate(self.stages):
            stage.validate(f"stages[{i}]")
            if stage.select.startswith("val/") and not self.data.val_fraction:
                raise ConfigError(f"stages[{i}].select: {stage.select!r} needs a validation split "
                                  f"(data.val_fraction > 0)")
        return self

    def stage_seed(self, index: int) -> int:
        """The seed of stage ``index``: its own ``seed`` if set, else the run's."""
        seed = self.stages[index].seed
        return self.seed if seed is None else seed

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def scaled_milestones(epochs: int) -> list[int]:
    """The papers' decay epochs 150/180/210 of 240, scaled to ``epochs`` (240 → [150, 180, 210])."""
    return sorted({m for m in (round(epochs * p / 240) for p in (150, 180, 210)) if 0 < m < epochs})


def _positive(value: int, key: str) -> None:
    if value < 1:
        raise ConfigError(f"{key}: must be >= 1, got {value}")


_NESTED = {"data": DataConfig, "model": ModelConfig, "teacher": TeacherConfig, "speed": SpeedConfig,
           "output": OutputConfig, "about": AboutConfig}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (ints are accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except _NotFinite:
                raise
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _NotFinite(f"{key}: must be a finite number, got {value}")
            return float(value)
        if isinstance(value, str) and value.strip().lower().lstrip("+-.") in ("nan", "inf", "infinity"):
            raise _NotFinite(f"{key}: must be a finite number, got {value}")
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is list:
        if isinstance(value, (list, tuple)):
            return list(value)
    elif tp is dict:
        if isinstance(value, dict):
            return dict(value)
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def build_dataclass(cls: type, raw: Any, key: str):
    """Build dataclass ``cls`` from a mapping, type-checking every field; errors name ``key.field``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{key or 'config'}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        prefix = f"{key}." if key else ""
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (valid: {', '.join(sorted(known))})")
    values = {}
    for name, value in raw.items():
        sub = f"{key}.{name}" if key else name
        if cls is RunConfig and name in _NESTED:
            values[name] = build_dataclass(_NESTED[name], value, sub)
        elif cls is RunConfig and name == "stages":
            if not isinstance(value, list):
                hint = (" (a mapping of stage names changes the stages of a preset: add base: <preset>)"
                        if isinstance(value, dict) else "")
                raise ConfigError(f"stages: expected a list of stages, got {type(value).__name__}{hint}")
            values[name] = [build_dataclass(StageConfig, s, f"stages[{i}]") for i, s in enumerate(value)]
        else:
            values[name] = _coerce(value, hints[name], sub)
    return cls(**values)


def config_from_dict(raw: dict) -> RunConfig:
    """Build and validate a :class:`RunConfig` from plain data (e.g. parsed YAML)."""
    return build_dataclass(RunConfig, raw, "").validate()


RECIPES_DIR = Path(__file__).with_name("recipes")
PRESETS_DIR = RECIPES_DIR / "presets"


def list_recipes() -> list[str]:
    """Names of the recipes shipped with the package (``--recipe NAME``)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def list_presets() -> list[str]:
    """Names of the method presets (``sskd distill --method NAME``; a recipe's ``base:``)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str, _seen: tuple = ()) -> dict:
    """The stages of method preset ``name`` (``recipes/presets/<name>.yaml``) as plain data; a
    preset with ``base: <preset>`` is laid over that one (e.g. ``fitnet_kd`` over ``fitnet``)."""
    if not isinstance(name, str) or name not in list_presets():
        raise ConfigError(f"preset {name!r}: unknown; valid: {', '.join(list_presets())}")
    path = PRESETS_DIR / f"{name}.yaml"
    if name in _seen:
        raise ConfigError(f"preset {name!r}: its base chain loops ({' -> '.join(_seen + (name,))})")
    raw = read_yaml_mapping(path)
    base = raw.pop("base", None)
    return merge_recipe(load_preset(base, _seen + (name,)), raw) if base is not None else raw


def merge_recipe(base: dict, override: dict, key: str = "") -> dict:
    """``override`` laid over ``base``: mappings merge key by key, other values replace.
    ``stages`` given as a mapping ``{stage name: {key: value}}`` changes the base's stages
    of those names; given as a list it replaces them."""
    merged = dict(base)
    for name, value in override.items():
        where = f"{key}.{name}" if key else name
        if name == "stages" and isinstance(value, dict):
            stages = [dict(s) for s in base.get("stages", [])]
            names = [s.get("name") for s in stages]
            for stage_name, changes in value.items():
                if stage_name not in names:
                    raise ConfigError(f"stages.{stage_name}: the base has no such stage (stages: {names})")
                i = names.index(stage_name)
                stages[i] = merge_recipe(stages[i], changes, f"stages.{stage_name}")
            merged["stages"] = stages
        elif isinstance(value, dict) and isinstance(base.get(name), dict):
            merged[name] = merge_recipe(base[name], value, where)
        else:
            merged[name] = value
    return merged


def load_recipe(path: Union[str, Path]) -> dict:
    """Read a YAML recipe as plain data (``yaml.safe_load``: no tags, no code).

    ``path`` is a file, or the name of a recipe shipped with the package. A recipe with
    ``base: <preset>`` is laid over that method preset (:func:`merge_recipe`).
    """
    path = Path(path)
    if not path.is_file() and (RECIPES_DIR / f"{path}.yaml").is_file():
        path = RECIPES_DIR / f"{path}.yaml"
    if path.is_dir():
        raise ConfigError(f"recipe {str(path)!r}: a folder, not a YAML file")
    if not path.is_file():
        raise ConfigError(f"recipe {str(path)!r}: no such file, nor a shipped recipe (`sskd recipes` lists them)")
    raw = read_yaml_mapping(path)
    base = raw.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"recipe {str(path)!r}: base must name a preset ({', '.join(list_presets())})")
        raw = merge_recipe(load_preset(base), raw)
    return raw


#: The largest YAML file read as a recipe or config: real ones are a few kB.
MAX_YAML_BYTES = 4 * 2**20
#: The most values a YAML document may expand to once its aliases are followed.
MAX_YAML_VALUES = 100_000


def parse_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load`` (no tags, no code) of ``text``, refusing a document nested too deep
    or whose aliases expand to more than :data:`MAX_YAML_VALUES` values; errors name ``what``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what}: not valid YAML ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise ConfigError(f"{what}: nested too deep to be a config") from None
    _check_expansion(value, what)
    return value


def _check_expansion(value: Any, what: str) -> None:
    stack, count = [value], 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise ConfigError(f"{what}: expands to more than {MAX_YAML_VALUES} values (YAML aliases "
                              f"repeated inside each other?); a config is far smaller")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def read_yaml_mapping(path: Path, what: str = "recipe") -> dict:
    """The mapping in YAML file ``path`` (``safe_load``: no tags, no code; at most
    :data:`MAX_YAML_BYTES`); errors name it as ``what``."""
    name = f"{what} {str(path)!r}"
    with open(path, "rb") as f:
        data = f.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"{name}: larger than {MAX_YAML_BYTES // 2**20} MB, too large for a config "
                          f"(not read)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start}); is it a YAML file?") from None
    raw = parse_yaml(text, name) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {str(path)!r}: expected a mapping at the top level")
    return raw


def apply_override(raw: dict, assignment: str) -> dict:
    """Apply ``"a.b.c=value"`` (value parsed as YAML) to the nested dict ``raw`` in place.

    ``stages.NAME.key`` addresses the stage named NAME, ``stages.N.key`` stage N and
    ``stages.-1.key`` the last stage.
    """
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r}: expected key=value")
    dotted, text = assignment.split("=", 1)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    except RecursionError:
        raise ConfigError(f"{dotted.strip()}: nested too deep to be a config value") from None
    _check_expansion(value, dotted.strip())
    parts = dotted.strip().split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = _list_item(node, part, where)
        else:
            if part == "stages" and "stages" not in node:
                node["stages"] = [{}]
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"{where}: is a value, cannot set {dotted}")
    last = parts[-1]
    if isinstance(node, list):
        idx = _index(node, last, dotted)
        node[idx] = value
    else:
        node[last] = value
    return raw


def _index(items: list, text: str, where: str) -> int:
    """Position of the stage named ``text`` (``stages.student``), or index ``text`` (``stages.-1``)."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if text in names:
        return names.index(text)
    try:
        idx = int(text)
    except ValueError:
        known = ", ".join(repr(n) for n in names if n is not None)
        raise ConfigError(f"{where}: no stage named {text!r} (stages: {known or 'unnamed'}); "
                          f"give a stage name or index") from None
    if not -len(items) <= idx < len(items):
        raise ConfigError(f"{where}: index {idx} out of range for {len(items)} stage(s)")
    return idx


def _list_item(items: list, text: str, where: str) -> dict:
    return items[_index(items, text, where)]


def dump_config(config: RunConfig, path: Union[str, Path]) -> None:
    """Write the effective config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
