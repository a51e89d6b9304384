"""The papers' rules that depend on the network a stage trains, in one place.

They fill what a fresh run's config leaves unset (``sskd train``/``distill`` flags, a
recipe, the Python API: :func:`sskd.engine.train` applies them before anything runs), so
every entry point builds the same network with the same optimiser settings. A value given
explicitly always wins, and a resumed run keeps the network arguments its ``config.yaml``
records.

* **Learning rate and weight decay.** With SGD (the papers'), a stage without ``lr`` uses
  the base learning rate of the network it trains (:attr:`sskd.models.registry.ModelEntry.lr`:
  0.01 for the zoo's MobileNetV2, ShuffleV1 and ShuffleV2, 0.05 otherwise; SSKD.md §2.1,
  §3.5), and a stage that trains a head or branches on a frozen teacher
  (``Method.teacher_side``) 0.05, the released ``t_lr``, unless the method's code fixes
  another (``Method.default_lr``, e.g. FT's paraphraser); weight decay 5e-4. With AdamW,
  lr 1e-3 and decoupled weight decay 0.05, whatever the network.
* **Network variant.** A method may fix builder arguments of the network it trains
  (``Method.network_args``): HSSAKD's MobileNetV2 has a stride-1 stem (HSSAKD.md §2.3),
  SSKD's the stride-2 one of the CRD benchmark. A teacher is built as it was trained: its
  ``args``, else those its ``model.safetensors`` records (:mod:`sskd.methods.teacher`).
* **Image size.** An image-folder data set without ``data.image_size`` is read at the
  teacher's native resolution (the trained network's when there is no teacher).
* **Data set names.** An alias (``folder``) becomes the data set's name (``image_folder``).
"""

from __future__ import annotations

from typing import Optional

from sskd.config import ModelConfig, RunConfig


SGD_WEIGHT_DECAY = 5e-4
ADAMW_LR = 1e-3
ADAMW_WEIGHT_DECAY = 0.05


def apply_rules(config: RunConfig, network_args: bool = True) -> RunConfig:
    """Fill ``config``'s unset learning rates, weight decays, network arguments and folder
    image size in place (names that are not registered are left for the preflight checks
    to report); returns ``config``. ``network_args=False`` leaves the network's arguments as
    they are: a resumed run's weights were built with the arguments its config records."""
    from sskd.data.registry import DATASET_ALIASES, FOLDER_DATASETS
    from sskd.models.registry import DEFAULT_LR

    config.data.name = DATASET_ALIASES.get(config.data.name.lower(), config.data.name)
    methods = [_method(stage.method) for stage in config.stages]
    for method in methods if network_args else ():
        _fill_network_args(config.model, method)
    trained = _entry(config.model.name)
    for stage, method in zip(config.stages, methods):
        adamw = stage.optimizer == "adamw"
        if stage.lr is None and not adamw and method is not None:
            stage.lr = method.default_lr(config)
        if stage.lr is None:
            teacher_side = method is not None and method.teacher_side
            stage.lr = ADAMW_LR if adamw else DEFAULT_LR if teacher_side or trained is None else trained.lr
        if stage.weight_decay is None:
            stage.weight_decay = ADAMW_WEIGHT_DECAY if adamw else SGD_WEIGHT_DECAY
    if config.data.image_size is None and config.data.name.lower() in FOLDER_DATASETS:
        native = _entry(config.teacher.name) if config.teacher.name else trained
        if native is not None:
            config.data.image_size = native.input_size
    return config


def _fill_network_args(network: ModelConfig, method) -> None:
    if method is None:
        return
    for key, value in method.network_args.get(network.name, {}).items():
        network.args.setdefault(key, value)


def _method(name: str):
    from sskd.methods import method_class

    try:
        return method_class(name)
    except ValueError:
        return None


def _entry(name: Optional[str]):
    from sskd.models import model_entry

    if name is None:
        return None
    try:
        return model_entry(name)
    except ValueError:
        return None
