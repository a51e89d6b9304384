"""The report's figures: one line plot per grid and pair, and copies of the t-SNE pictures.

matplotlib (Agg) is imported inside the functions, so that importing the report stays fast.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from sskd.analysis.report import Experiment, Grid

Y_LABEL = "test top-1 (%), last epoch"


def setting_positions(grid: Grid) -> tuple[list[float], bool]:
    """The x position of each setting, and whether the axis is numeric (every setting has an x)."""
    if all(s.x is not None for s in grid.settings):
        return [s.x for s in grid.settings], True
    return [float(i) for i in range(len(grid.settings))], False


def plot_grid_pair(grid: Grid, pair: str, path: Path) -> bool:
    """Plot last-epoch test top-1 (mean, ±std error bars) against the setting, one line per
    method of ``pair``, into the PNG ``path``; False (nothing written) when no cell finished."""
    rows = [r for r in grid.rows if r.pair == pair and any(r.last.values())]
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, numeric = setting_positions(grid)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for row in rows:
        points = [(x, row.last[s.label]) for x, s in zip(xs, grid.settings) if row.last[s.label]]
        ax.errorbar([x for x, _ in points], [st.mean for _, st in points],
                    yerr=[st.std or 0.0 for _, st in points], marker="o", capsize=4, label=row.method)
    ax.set_xticks(xs, [s.label for s in grid.settings])
    if not numeric:
        ax.set_xlim(xs[0] - 0.5, xs[-1] + 0.5)
    ax.set_xlabel(grid.sweep_label)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(textwrap.fill(f"{grid.title}: {pair} (mean ± std over seeds)", 60), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def copy_figure(src: Path, dest: Path) -> Path:
    """Copy the picture ``src`` to ``dest`` (making its folder), so the report holds its own copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def slug(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9._-]`` replaced by ``-``: a safe file name."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text)


def draw_figures(exp: Experiment, out_dir: Path, folder: str) -> dict[tuple[str, str], str]:
    """Write the experiment's figures under ``out_dir/folder`` and return their paths relative
    to ``out_dir``, keyed ``("grid", "<grid>/<pair>")`` and ``("tsne", "<analysis name>")``."""
    figures = {}
    for grid in exp.grids:
        for pair in grid.pairs:
            rel = f"{folder}/{slug(grid.name)}.{slug(pair)}.png"
            if plot_grid_pair(grid, pair, out_dir / rel):
                figures["grid", f"{grid.name}/{pair}"] = rel
    for tsne in exp.tsne:
        if tsne.png is not None:
            rel = f"{folder}/{slug(tsne.name)}.png"
            copy_figure(tsne.png, out_dir / rel)
            figures["tsne", tsne.name] = rel
    return figures
