"""Table rows: a method as the papers' tables name it (``CE``, ``KD``, ``FitNet+KD``, ``SSKD``,
``HSSAKD``, ``HSSAKD-online``...) and the stages that train it, read from the method presets
(``recipes/presets/``). The demo and ``sskd experiment`` both name their rows this way.
"""

from __future__ import annotations

from sskd.config import load_preset

# Rows that are not a distill preset. Every other row is a preset (recipes/presets/), named
# case-insensitively (kd, sskd, fitnet, crd_kd, ...). The teacher-side stages (SSKD's head,
# HSSAKD's branches, FT's paraphraser) have their own seed, so the first run trains them and
# the others reuse them from the run cache (keyed by the teacher checkpoint's hash).
SPECIAL_ROWS = {
    "CE": [{"name": "student", "method": "supervised"}],
    "HSSAKD-online": [{"name": "student", "method": "hssakd_online", "nesterov": True}],
}
NOT_DEMO_PRESETS = ("hssakd_student",)  # needs a teacher checkpoint that holds HSSAKD branches
BASELINES = ("fitnet", "at", "sp", "cc", "vid", "rkd", "pkt", "ab", "ft", "fsp", "nst", "crd")


def all_rows() -> list[str]:
    """``--methods all``: CE, KD, every baseline "+KD" (as the SSKD tables report them),
    SSKD, HSSAKD and online HSSAKD."""
    return ["CE", "KD", *(row_label(f"{m}_kd") for m in BASELINES), "SSKD", "HSSAKD", "HSSAKD-online"]


def row_label(name: str) -> str:
    """The table label of a row: ``CE``, ``HSSAKD-online``, or a preset's method as its paper
    names it, ``+KD`` for a ``*_kd`` preset (``fitnet_kd`` → ``FitNet+KD``)."""
    from sskd.config import ConfigError, list_presets
    from sskd.methods import method_class

    for special in SPECIAL_ROWS:
        if name.lower() == special.lower():
            return special
    presets = [p for p in list_presets() if p not in NOT_DEMO_PRESETS]
    key = name.lower().replace("+kd", "_kd").replace("-", "_")
    match = [p for p in presets if p == key] or [p for p in presets if _label_of(p).lower() == name.lower()]
    if not match:
        raise ConfigError(f"--methods: unknown {name!r}; valid: all, {', '.join(SPECIAL_ROWS)}, "
                          f"{', '.join(presets)}")
    method_class(load_preset(match[0])["stages"][-1]["method"])  # registered
    return _label_of(match[0])


def _label_of(preset: str) -> str:
    from sskd.methods import method_class

    paper = method_class(load_preset(preset)["stages"][-1]["method"]).paper
    base = paper.short if paper else preset
    return f"{base}+KD" if preset.endswith("_kd") else base


def _preset_of(label: str) -> str:
    from sskd.config import list_presets

    return next(p for p in list_presets() if p not in NOT_DEMO_PRESETS and _label_of(p) == label)


def method_stages(method: str) -> list[dict]:
    """The stages of table row ``method`` (a label of :func:`row_label`), as its preset gives them."""
    return [dict(s) for s in (SPECIAL_ROWS.get(method) or load_preset(_preset_of(method))["stages"])]


def row_stages(method: str, head_epochs: int, student_epochs: int) -> list[dict]:
    """The stages of table row ``method``: every stage before the student's shortened to
    ``head_epochs``, the student's to ``student_epochs``; step schedules are scaled to them,
    a constant learning rate stays constant."""
    stages = method_stages(method)
    for stage, epochs in zip(stages, [head_epochs] * (len(stages) - 1) + [student_epochs]):
        stage.update(epochs=epochs, milestones=[] if stage.get("milestones") == [] else None)
    return stages


def method_needs_teacher(stages: list[dict]) -> bool:
    """Whether any of ``stages`` (plain dicts) trains with a teacher network."""
    from sskd.methods import method_class

    return any(method_class(stage.get("method", "supervised")).needs_teacher for stage in stages)
