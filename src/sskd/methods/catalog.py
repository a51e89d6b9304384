"""What ``sskd methods`` lists: every registered method, its paper, and what it needs (a
teacher, init stages before it — read from its preset —, a memory over the training set)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sskd.config import list_presets, load_preset
from sskd.methods.base import Paper, list_methods, method_class


@dataclass(frozen=True)
class MethodInfo:
    name: str
    paper: Optional[Paper]
    needs_teacher: bool
    init_stages: tuple[str, ...]  # methods of the stages its preset runs before it
    stage_of: tuple[str, ...]  # presets in which it is an earlier stage (an init stage)
    memory_bank: bool
    presets: tuple[str, ...]  # presets whose last stage trains with it


def method_catalog() -> list[MethodInfo]:
    """One :class:`MethodInfo` per registered method, sorted by name."""
    init: dict[str, tuple[str, ...]] = {}
    stage_of: dict[str, list[str]] = {}
    presets: dict[str, list[str]] = {}
    for preset in list_presets():
        methods = [stage["method"] for stage in load_preset(preset)["stages"]]
        presets.setdefault(methods[-1], []).append(preset)
        init.setdefault(methods[-1], tuple(methods[:-1]))
        for earlier in methods[:-1]:
            if preset not in stage_of.setdefault(earlier, []) and not preset.endswith("_kd"):
                stage_of[earlier].append(preset)
    rows = []
    for name in list_methods():
        cls = method_class(name)
        rows.append(MethodInfo(name, cls.paper, cls.needs_teacher, init.get(name, ()),
                               tuple(stage_of.get(name, ())), cls.memory_bank, tuple(presets.get(name, ()))))
    return rows


def format_catalog(rows: list[MethodInfo]) -> str:
    """A table of :func:`method_catalog` for the terminal."""
    width = max(len(r.name) for r in rows) + 2
    lines = []
    for r in rows:
        needs = ["teacher" if r.needs_teacher else "no teacher"]
        if r.init_stages:
            needs.append(f"init stage {', '.join(r.init_stages)}")
        if r.stage_of:
            needs.append(f"init stage of {', '.join(r.stage_of)}")
        if r.memory_bank:
            needs.append("memory bank")
        paper = r.paper.cite() if r.paper else "plain cross-entropy"
        lines.append(f"{r.name:<{width}}{paper}")
        lines.append(f"{'':<{width}}needs: {'; '.join(needs)}"
                     + (f" | presets: {', '.join(r.presets)}" if r.presets else ""))
    return "\n".join(lines)
