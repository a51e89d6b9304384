"""A fake experiment folder, in the layout ``sskd experiment`` writes, with known numbers.

One teacher; the grid ``few_shot`` (settings "0.25" and "1", reference "1") of the pair
resnet20-resnet8 with KD and SSKD over seeds 0 and 1, all finished, plus one HSSAKD cell
that never finished; similarity results for the reference cells (and one off-reference cell,
which the report must leave out), one t-SNE with its picture, one t-SNE not run, one probe.
The numbers come from the functions below, so tests can compute what the report must say.
"""

from __future__ import annotations

import json
from pathlib import Path

PAIR = "resnet20-resnet8"
TEACHER = "teacher-resnet20"
METHODS = ("KD", "SSKD")
SETTINGS = (("0.25", 0.25), ("1", 1.0))
REFERENCE = "1"
SEEDS = (0, 1)
UNFINISHED = f"few_shot.{PAIR}.HSSAKD.0.25.s0"
TEMPERATURES = (1.0, 4.0)
CKA_ESTIMATOR = "linear CKA, biased HSIC over the whole split"
TEACHER_LAST, TEACHER_BEST = 95.5, 96.25
TSNE_CELL = f"few_shot.{PAIR}.SSKD.1.s0"
PROBE_CELL = f"few_shot.{PAIR}.SSKD.1.s0"
PROBE_LAST, PROBE_BEST = 61.25, 63.5
OFF_REFERENCE_SIMILARITY = f"few_shot.{PAIR}.KD.0.25.s0"


def cell_name(method: str, setting: str, seed: int) -> str:
    return f"few_shot.{PAIR}.{method}.{setting}.s{seed}"


def last_top1(method: str, setting: str, seed: int) -> float:
    """The final epoch's test top-1 of a student cell."""
    return {"KD": 70.0, "SSKD": 74.0}[method] + {"0.25": 0.0, "1": 10.0}[setting] \
        + seed * {"KD": 1.3, "SSKD": 2.1}[method]


def best_top1(method: str, setting: str, seed: int) -> float:
    """The best epoch's test top-1: above the last epoch, by a margin that varies with the seed."""
    return last_top1(method, setting, seed) + 0.4 + 0.7 * seed


def kl(method: str, seed: int, temperature: float) -> float:
    return (0.2 if method == "KD" else 0.15) / temperature + 0.013 * seed


def cka(method: str, seed: int) -> float:
    return (0.81 if method == "KD" else 0.86) + 0.017 * seed


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def stage_summary(last: float, best: float, epochs: int = 4) -> dict:
    return {"epochs": epochs, "last_epoch": {"test/top1": last, "test/top5": 100.0},
            "best_epoch": {"epoch": epochs - 1, "selected_on": "test/top1", "test/top1": best, "test/top5": 100.0},
            "exported_epoch": {"epoch": epochs, "selected_on": "last"}}


def write_run(run: Path, model: str, seed: int, stage: str, last: float, best: float, finished: bool = True,
              cached_teacher_stage: bool = False) -> None:
    """A run directory: config.yaml, metrics.jsonl (whose last and highest test top-1 are
    ``last`` and ``best``), and, when ``finished``, summary.json and model.safetensors."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(f"model: {model}\nseed: {seed}\n")
    scores = [best - 9.0, best - 3.0, best, last]
    records = [{"stage": stage, "epoch": e, "test/top1": s, "test/top5": 100.0} for e, s in enumerate(scores, 1)]
    if not finished:
        records = records[:2]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if not finished:
        return
    stages = {stage: stage_summary(last, best)}
    if cached_teacher_stage:
        stages = {"teacher_head": {"cached_from": "cache/teacher_head", "scores": {"test/top1": TEACHER_LAST}},
                  **stages}
    write_json(run / "summary.json", {"run_dir": str(run.name), "model": model, "dataset": "digits", "seed": seed,
                                      "wall_time_s": 12.3, "stages": stages})
    (run / "model.safetensors").write_bytes(b"not a real network: the report never reads it")


def plan_cell(name: str, kind: str, model: str, method: str, setting, seed: int) -> dict:
    student = kind == "student"
    return {"name": name, "kind": kind, "grid": "few_shot" if student else None, "pair": PAIR if student else None,
            "model": model, "teacher": "resnet20" if student else None, "method": method, "setting": setting,
            "seed": seed, "run_dir": f"runs/{name}", "stage": kind,
            "command": f"sskd train --recipe plan/{name}.yaml", "after": [TEACHER] if student else [],
            "teacher_run": f"runs/{TEACHER}" if student else None}


def similarity_json(method: str, seed: int, student: str) -> dict:
    return {"teacher": f"runs/{TEACHER}/model.safetensors", "student": f"runs/{student}/model.safetensors",
            "teacher_model": "resnet20", "student_model": "resnet8", "dataset": "digits", "split": "test",
            "images": 450, "representation": "pooled", "kl_direction": "teacher||student",
            "kl": [{"temperature": t, "t_squared": False, "value": kl(method, seed, t)} for t in TEMPERATURES],
            "cka": cka(method, seed), "cka_estimator": CKA_ESTIMATOR}


def write_tsne(folder: Path, cell: str) -> None:
    """A t-SNE result with a tiny real PNG next to it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.scatter([0, 1, 2], [1, 0, 2], c=[0, 1, 2])
    fig.savefig(folder / f"{cell}.png", dpi=30)
    plt.close(fig)
    write_json(folder / f"{cell}.json", {
        "checkpoint": f"runs/{cell}/model.safetensors", "model": "resnet8", "dataset": "digits", "split": "test",
        "classes": [0, 1, 2], "class_names": ["0", "1", "2"], "per_class": 1, "points": 3, "seed": 0,
        "perplexity": 1.0, "png": f"{cell}.png", "silhouette_embedding": 0.31234, "silhouette_2d": 0.45678})


def analysis(kind: str, cell: str, output: str, **extra) -> dict:
    name = f"{kind}.{cell}" + (f".{extra['dataset']}" if "dataset" in extra else "")
    return {"name": name, "kind": kind, "cell": cell, "output": output, "command": f"sskd {kind} {cell}",
            "after": [cell], **extra}


def write_experiment(exp: Path) -> Path:
    """Write the fake experiment folder ``exp`` and return it."""
    cells = [plan_cell(TEACHER, "teacher", "resnet20", "teacher", None, 0)]
    write_run(exp / "runs" / TEACHER, "resnet20", 0, "teacher", TEACHER_LAST, TEACHER_BEST)
    for method in METHODS:
        for setting, _ in SETTINGS:
            for seed in SEEDS:
                name = cell_name(method, setting, seed)
                cells.append(plan_cell(name, "student", "resnet8", method, setting, seed))
                write_run(exp / "runs" / name, "resnet8", seed, "student", last_top1(method, setting, seed),
                          best_top1(method, setting, seed), cached_teacher_stage=method == "SSKD")
    cells.append(plan_cell(UNFINISHED, "student", "resnet8", "HSSAKD", "0.25", 0))
    write_run(exp / "runs" / UNFINISHED, "resnet8", 0, "student", 50.0, 51.0, finished=False)

    analyses = []
    for cell in [cell_name(m, REFERENCE, s) for m in METHODS for s in SEEDS] + [OFF_REFERENCE_SIMILARITY]:
        method, seed = cell.split(".")[2], int(cell[-1])
        analyses.append(analysis("similarity", cell, f"analysis/similarity/{cell}.json", teacher=f"runs/{TEACHER}"))
        write_json(exp / analyses[-1]["output"], similarity_json(method, seed, cell))
    analyses.append(analysis("tsne", TSNE_CELL, f"analysis/tsne/{TSNE_CELL}.json"))
    write_tsne(exp / "analysis" / "tsne", TSNE_CELL)
    analyses.append(analysis("tsne", TEACHER, f"analysis/tsne/{TEACHER}.json"))
    analyses.append(analysis("probe", PROBE_CELL, f"analysis/probe/{PROBE_CELL}.stl10.json", dataset="stl10"))
    write_json(exp / analyses[-1]["output"], {
        "checkpoint": f"runs/{PROBE_CELL}/model.safetensors", "model": "resnet8", "dataset": "stl10",
        "feature_dim": 64, "num_classes": 10, "train_images": 5000, "test_images": 8000, "augment": False,
        "epochs": 3, "lr": 0.1, "batch_size": 128, "seed": 0,
        "last_epoch": {"epoch": 3, "test/top1": PROBE_LAST},
        "best_epoch": {"epoch": 2, "test/top1": PROBE_BEST, "selected_on": "test/top1"}, "history": []})

    for cell in cells:
        (exp / "plan").mkdir(parents=True, exist_ok=True)
        (exp / "plan" / f"{cell['name']}.yaml").write_text(f"model: {cell['model']}\nseed: {cell['seed']}\n")
    (exp / "experiment.yaml").write_text("title: Few-shot test experiment\n")
    write_json(exp / "plan.json", {
        "format": 1, "title": "Few-shot test experiment",
        "about": {"paper": "SSKD (Xu et al., ECCV 2020)", "description": "A fixture with known numbers."},
        "grids": [{"name": "few_shot", "title": "Few-shot (SSKD Fig. 4a)",
                   "sweep": {"label": "training fraction",
                             "values": [{"label": label, "x": x} for label, x in SETTINGS]},
                   "reference": REFERENCE}],
        "cells": cells, "analyses": analyses})
    return exp
