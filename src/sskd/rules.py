"""The papers' rules that depend on the network a stage trains, in one place.

They are applied whenever a run config is validated (``sskd train``/``distill`` flags, a
recipe, the Python API), so every entry point builds the same network with the same
learning rate. A value given explicitly always wins.

* **Learning rate.** A stage without ``lr`` uses the base learning rate of the network it
  trains (:attr:`sskd.models.registry.ModelEntry.lr`: 0.01 for MobileNetV2, ShuffleV1 and
  ShuffleV2, 0.05 otherwise; SSKD.md §2.1, §3.5). A stage that trains a head or branches on
  a frozen teacher (``Method.teacher_side``) uses 0.05, the released ``t_lr``.
* **Network variant.** A method may fix builder arguments of a network
  (``Method.network_args``): HSSAKD's MobileNetV2 has a stride-1 stem (HSSAKD.md §2.3),
  SSKD's the stride-2 one of the CRD benchmark.
* **Image size.** An image-folder data set without ``data.image_size`` is read at the
  teacher's native resolution (the trained network's when there is no teacher).
* **Data set names.** An alias (``folder``) becomes the data set's name (``image_folder``).
"""

from __future__ import annotations

from typing import Optional

from sskd.config import ModelConfig, RunConfig, TeacherConfig


def apply_rules(config: RunConfig) -> RunConfig:
    """Fill ``config``'s unset learning rates, network arguments and folder image size in
    place (names that are not registered are left for the preflight checks to report)."""
    from sskd.data.registry import DATASET_ALIASES, FOLDER_DATASETS
    from sskd.models.registry import DEFAULT_LR

    config.data.name = DATASET_ALIASES.get(config.data.name.lower(), config.data.name)
    methods = [_method(stage.method) for stage in config.stages]
    for method in methods:
        for network in (config.model, config.teacher):
            _fill_network_args(network, method)
    trained = _entry(config.model.name)
    for stage, method in zip(config.stages, methods):
        if stage.lr is None:
            teacher_side = method is not None and method.teacher_side
            stage.lr = DEFAULT_LR if teacher_side or trained is None else trained.lr
    if config.data.image_size is None and config.data.name.lower() in FOLDER_DATASETS:
        native = _entry(config.teacher.name) if config.teacher.name else trained
        if native is not None:
            config.data.image_size = native.input_size
    return config


def _fill_network_args(network: ModelConfig | TeacherConfig, method) -> None:
    if method is None or network.name is None:
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
