"""The report as Markdown: :func:`write_report` collects each experiment, draws its figures
and writes ``report.md``, one ``#`` section per experiment, every number read from its files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from sskd.analysis.report import Experiment, Grid, Stat, collect_experiment
from sskd.analysis.report_plots import Y_LABEL, draw_figures, slug

MISSING = "—"
SELECTION = {"test/top1": "test/top1 (optimistic, as the papers report)",
             "val/top1": "val/top1 (a validation split)"}


def fmt_stat(stat: Optional[Stat], digits: int = 2) -> str:
    """``mean ± std (n=k)``; ``mean (n=1)`` for one value; ``—`` for none."""
    if stat is None:
        return MISSING
    if stat.std is None:
        return f"{stat.mean:.{digits}f} (n={stat.n})"
    return f"{stat.mean:.{digits}f} ± {stat.std:.{digits}f} (n={stat.n})"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (``|`` inside a cell escaped)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    return [line(headers), line(["---"] * len(headers)), *map(line, rows), ""]


def header(exp: Experiment) -> list[str]:
    """The paragraph on what was run and how the two epochs are chosen."""
    done, students = [c for c in exp.cells if c.finished], [c for c in exp.cells if c.kind != "teacher"]
    text = (f"{len(done)} of {len(exp.cells)} cells finished ({sum(c.finished for c in exp.teachers)} of "
            f"{len(exp.teachers)} teachers, {sum(c.finished for c in students)} of {len(students)} students); "
            f"seeds {', '.join(map(str, exp.seeds))}. Every accuracy is test top-1 (%). "
            "\"Last epoch\" is the final epoch's test top-1: the honest number. "
            "\"Best epoch\" is the highest over epochs, ")
    keys = exp.selected_on
    if len(keys) == 1:
        (key,) = keys
        text += f"selected on {SELECTION.get(key, key)}."
    elif keys:
        text += ("selected on different keys by different cells: "
                 + "; ".join(f"{SELECTION.get(k, k)} for {n} cells" for k, n in keys.items())
                 + ". The best-epoch numbers mix these rules.")
    else:
        text += "selected on the key its summary names (no cell has finished yet)."
    return [text, ""]


def teachers(exp: Experiment) -> list[str]:
    rows = [[c.name, c.model, str(c.seed), MISSING if c.last_top1 is None else f"{c.last_top1:.2f}"]
            for c in exp.teachers]
    return ["## Teachers", "", *table(["cell", "model", "seed", "test top-1 (%), last epoch"], rows)]


def grid_section(grid: Grid, figures: dict[tuple[str, str], str]) -> list[str]:
    """A grid's last-epoch and best-epoch tables, its unfinished cells and its plots."""
    columns = [f"{s.label} (reference)" if s.label == grid.reference else s.label for s in grid.settings]
    out = [f"## {grid.title}", "",
           f"Sweep: {grid.sweep_label}; entries are mean ± sample std (n = finished seeds).", ""]
    for title, which in (("Test top-1 (%), last epoch", "last"), ("Test top-1 (%), best epoch", "best")):
        rows = [[r.pair, r.method, *(fmt_stat(getattr(r, which)[s.label]) for s in grid.settings)]
                for r in grid.rows]
        out += [f"**{title}**", "", *table(["pair", "method", *columns], rows)]
    unfinished = grid.unfinished
    out += [f"{len(unfinished)} of {len(grid.cells)} cells of this grid unfinished"
            + (": " + ", ".join(f"`{c.name}`" for c in unfinished) if unfinished else "") + ".", ""]
    for pair in grid.pairs:
        rel = figures.get(("grid", f"{grid.name}/{pair}"))
        if rel:
            out += [f"![{grid.title}, {pair}: {Y_LABEL} against {grid.sweep_label}]({rel})", ""]
        else:
            out += [f"No finished cell of {pair} to plot.", ""]
    return out


def similarity(exp: Experiment) -> list[str]:
    """Teacher-student closeness at each grid's reference setting (SSKD Table 6)."""
    sim = exp.similarity
    out = ["## Similarity to the teacher", ""]
    if not sim.rows:
        return out + [f"No similarity results ({len(sim.not_run)} not run).", ""]
    cka = f"CKA ({', '.join(sim.representations)})"
    out += [f"Measured on {'; '.join(sim.sources)}, on the {', '.join(sim.representations)} features; "
            f"CKA estimator: {'; '.join(sim.estimators)}. Mean ± std over seeds. Lower KL and higher CKA = "
            "closer to the teacher. Cells at each grid's reference setting (every setting when a grid "
            "has none).", ""]
    rows = [[r.grid, r.pair, r.method, r.setting, *(fmt_stat(r.kl[c], 4) for c in sim.kl_columns),
             fmt_stat(r.cka, 4)] for r in sim.rows]
    out += table(["grid", "pair", "method", "setting", *sim.kl_columns, cka], rows)
    if sim.not_run:
        out += ["Not run: " + ", ".join(f"`{a.name}`" for a in sim.not_run) + ".", ""]
    return out


def tsne(exp: Experiment, figures: dict[tuple[str, str], str]) -> list[str]:
    out = ["## t-SNE", ""]
    for m in exp.tsne:
        caption = (f"{m.model}, {m.method}, cell `{m.cell}` ({m.dataset} {m.split}): silhouette "
                   f"{m.silhouette_embedding:.4f} in the embedding, {m.silhouette_2d:.4f} in the 2-D map")
        rel = figures.get(("tsne", m.name))
        out += [f"![t-SNE of {m.cell}]({rel})" if rel else "(picture missing)", "", caption, ""]
    not_run = [a for a in exp.analyses if a.kind == "tsne" and not a.done]
    if not_run:
        out += ["Not run: " + ", ".join(f"`{a.name}`" for a in not_run) + ".", ""]
    return out


def probes(exp: Experiment) -> list[str]:
    p = exp.probes
    out = ["## Linear probe", ""]
    if p.rows:
        out += ["A linear classifier on each network's frozen features; mean ± std over cells. Best epoch "
                f"selected on {', '.join(p.selected_on)}.", ""]
        headers = ["pair", "method", "model"] + [f"{d} {e}" for d in p.datasets for e in ("last epoch", "best epoch")]
        rows = [[r.pair, r.method, r.model, *(fmt_stat(s) for d in p.datasets for s in r.scores[d])] for r in p.rows]
        out += table(headers, rows)
    not_run = [a for a in exp.analyses if a.kind == "probe" and not a.done]
    if not_run:
        out += ["Not run: " + ", ".join(f"`{a.name}`" for a in not_run) + ".", ""]
    elif not p.rows:
        out += ["No linear probe planned.", ""]
    return out


def commands(exp: Experiment) -> list[str]:
    """Every command behind the numbers: teachers, each grid, other cells, analyses."""
    groups = [("Teachers", exp.teachers)]
    groups += [(g.title, g.cells) for g in exp.grids]
    grouped = {id(c) for _, cells in groups for c in cells}
    groups.append(("Other cells", [c for c in exp.cells if id(c) not in grouped]))
    out = ["## Commands", "", f"Every number above comes from one of these commands; they run from the "
           f"experiment folder (`{exp.path.name}`, the folder holding plan.json), in this order.", ""]
    first_of: dict = {}
    for title, cells in groups:
        lines = []
        for c in cells:
            if c.run_dir in first_of:  # a run shared with an earlier cell is listed once
                lines.append(f"# {c.name}: the run of {first_of[c.run_dir]}")
                continue
            first_of[c.run_dir] = c.name
            lines.append(f"# {c.name}{'' if c.finished else ' (not finished)'}\n{c.command}")
        out += [f"### {title}", "", "```sh", *lines, "```", ""] if lines else []
    lines = [f"# {a.name}{'' if a.done else ' (not run)'}\n{a.command}" for a in exp.analyses]
    out += ["### Analyses", "", "```sh", *lines, "```", ""] if lines else []
    return out


def render(exp: Experiment, figures: dict[tuple[str, str], str]) -> str:
    """The Markdown section of one experiment."""
    out = [f"# {exp.title}", ""]
    if exp.paper:
        out += [f"*{exp.paper}*", ""]
    if exp.description:
        out += [exp.description, ""]
    out += header(exp) + teachers(exp)
    for grid in exp.grids:
        out += grid_section(grid, figures)
    out += similarity(exp) + tsne(exp, figures) + probes(exp) + commands(exp)
    return "\n".join(out)


def write_report(experiment_dirs: list[str | Path], out_dir: Optional[str | Path] = None) -> Path:
    """Write ``out_dir/report.md`` (default: the first experiment's ``report/``) and its
    figures for ``experiment_dirs``; return the report's path. Only ``out_dir`` is written."""
    if isinstance(experiment_dirs, (str, Path)):
        experiment_dirs = [experiment_dirs]
    if not experiment_dirs:
        raise ValueError("no experiment folder given")
    experiments = [collect_experiment(d) for d in experiment_dirs]
    out_dir = Path(out_dir) if out_dir is not None else Path(experiment_dirs[0]) / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, folders = [], set()
    for i, exp in enumerate(experiments):
        folder = f"figures/{slug(exp.path.resolve().name)}"
        folder = folder if folder not in folders else f"{folder}-{i + 1}"
        folders.add(folder)
        sections.append(render(exp, draw_figures(exp, out_dir, folder)))
    path = out_dir / "report.md"
    path.write_text("\n".join(sections))
    return path
