"""Where an experiment folder stands: which runs are finished, which stopped half-way, and
which were made with a config other than the plan's (stale), so that they are never mixed in
silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import yaml

from sskd.config import ConfigError
from sskd.experiments.plan import Cell, Plan, effective_config

FINISHED, PARTIAL, NEW = "finished", "partial", "new"


def run_state(exp_dir: Path, run_dir: str) -> str:
    """``finished`` (``summary.json`` written), ``partial`` (a config but no summary: it
    resumes from its last checkpoint, or starts over if it never finished an epoch) or ``new``."""
    path = exp_dir / run_dir
    if (path / "summary.json").is_file():
        return FINISHED
    return PARTIAL if (path / "config.yaml").is_file() else NEW


ANALYSIS_COMMANDS = "analysis/commands.json"


def analysis_done(exp_dir: Path, output: str, run_dirs: list[str], command: Optional[str] = None) -> bool:
    """Whether ``output`` exists, is newer than the summaries of the runs it reads (a run
    trained again makes its analyses pending again) and, when this folder recorded the
    command that wrote it, was written by ``command`` (changed settings redo it)."""
    path = exp_dir / output
    if not path.is_file():
        return False
    if command is not None and recorded_commands(exp_dir).get(output, command) != command:
        return False
    summaries = [exp_dir / r / "summary.json" for r in run_dirs]
    return all(s.is_file() and s.stat().st_mtime <= path.stat().st_mtime for s in summaries)


def recorded_commands(exp_dir: Path) -> dict[str, str]:
    """``{output: command}`` of the analyses this folder's runner has run."""
    path = exp_dir / ANALYSIS_COMMANDS
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); delete it to run every analysis again") from None


def record_command(exp_dir: Path, output: str, command: str) -> None:
    from sskd.engine.checkpoint import atomic_write_text

    recorded = recorded_commands(exp_dir)
    recorded[output] = command
    (exp_dir / ANALYSIS_COMMANDS).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(exp_dir / ANALYSIS_COMMANDS, json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def cell_argv(exp_dir: Path, cell: Cell) -> list[str]:
    """The ``sskd`` arguments that bring ``cell`` to its end from where it stands."""
    if run_state(exp_dir, cell.run_dir) == PARTIAL:
        return ["train", "--resume", cell.run_dir]
    return ["train", "--recipe", f"plan/{cell.run_dir.rsplit('/', 1)[-1]}.yaml"]


def stale_cells(exp_dir: Path, plan: Plan) -> list[str]:
    """One line per run directory whose ``config.yaml`` differs from the plan's config,
    naming the keys that differ."""
    lines = []
    for cell in plan.unique_cells():
        written = exp_dir / cell.run_dir / "config.yaml"
        if not written.is_file():
            continue
        try:
            found = yaml.safe_load(written.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{written}: not valid YAML ({exc})") from None
        differences = _differences(effective_config(plan.configs[cell.run_dir]), found or {})
        if differences:
            shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
            lines.append(f"{cell.run_dir}: {shown}")
    return lines


def _differences(planned: Any, found: Any, key: str = "") -> list[str]:
    if isinstance(planned, dict) and isinstance(found, dict):
        out = []
        for k in list(planned) + [k for k in found if k not in planned]:
            out += _differences(planned.get(k, _MISSING), found.get(k, _MISSING), f"{key}.{k}" if key else str(k))
        return out
    if isinstance(planned, list) and isinstance(found, list) and len(planned) == len(found):
        return [line for i, (p, f) in enumerate(zip(planned, found))
                for line in _differences(p, f, f"{key}.{_item_name(p, i)}")]
    if planned != found:
        return [f"{key} is {found!r}, the plan says {planned!r}"]
    return []


def _item_name(item: Any, index: int) -> str:
    return str(item["name"]) if isinstance(item, dict) and "name" in item else str(index)


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()
