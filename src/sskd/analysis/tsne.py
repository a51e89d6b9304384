"""t-SNE of a network's pooled penultimate embeddings, one colour per class: the figure of
SSKD (ECCV 2020) Fig. 3a ("the student's embeddings cluster better").

``per_class`` images of each chosen class are drawn from a split (the same ones for the
same seed), their pooled embeddings [N, D] mapped to 2-D points [N, 2] with scikit-learn's
``TSNE(init="pca", random_state=seed)`` and plotted with matplotlib's Agg backend. A JSON
sidecar records what was drawn and two silhouette scores (euclidean, labels = classes):
of the embeddings themselves and of the 2-D points, the number behind the picture.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from sskd.analysis.network_outputs import load_split, open_network, start_runtime, stream_outputs
from sskd.engine.checkpoint import atomic_write_text
from sskd.engine.saved_network import SavedNetwork, locate_saved_network

DEFAULT_MAX_CLASSES = 10


@dataclass
class TSNEPoints:
    """The drawn images' pooled embeddings [N, D], labels [N] and t-SNE coordinates [N, 2]."""

    saved: SavedNetwork
    dataset: str
    split: str
    classes: list[int]
    class_names: list[str]
    per_class: int
    seed: int
    perplexity: float  # as used: clipped below the number of points
    embeddings: np.ndarray
    labels: np.ndarray
    coords: np.ndarray


def check_classes(classes: Optional[Sequence[int]], num_classes: int) -> list[int]:
    """``classes`` without repeats (default: the first ten); refuses unknown ones and fewer than two."""
    if classes is None:
        classes = range(min(DEFAULT_MAX_CLASSES, num_classes))
    chosen = list(dict.fromkeys(int(c) for c in classes))
    unknown = [c for c in chosen if not 0 <= c < num_classes]
    if unknown:
        raise ValueError(f"--classes: unknown classes {unknown}; valid classes are 0 to {num_classes - 1}")
    if len(chosen) < 2:
        raise ValueError(f"--classes: a t-SNE of clusters needs at least 2 classes; got {chosen}")
    return chosen


def choose_images(labels: Tensor, classes: Sequence[int], per_class: int, seed: int) -> Tensor:
    """Indices (ascending) of ``per_class`` images of each class in ``classes`` (all of them
    when a class has fewer), drawn by a generator seeded with ``(seed, class)``, so a class
    gets the same images whatever other classes are chosen."""
    chosen = []
    for c in classes:
        members = torch.nonzero(labels == c).flatten().numpy()
        if members.size == 0:
            raise ValueError(f"--classes: class {c} has no image in this split")
        order = np.random.default_rng([seed, c]).permutation(members.size)
        chosen.append(members[order[:per_class]])
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


def tsne_coordinates(embeddings: np.ndarray, seed: int, perplexity: float) -> tuple[np.ndarray, float]:
    """2-D t-SNE points [N, 2] of ``embeddings`` [N, D] and the perplexity used (at most N − 1)."""
    from sklearn.manifold import TSNE

    used = float(min(perplexity, embeddings.shape[0] - 1))
    tsne = TSNE(n_components=2, perplexity=used, init="pca", random_state=seed)
    return tsne.fit_transform(embeddings), used


def _check_options(per_class: int, seed: int, perplexity: float) -> None:
    if per_class < 1:
        raise ValueError(f"--per-class must be at least 1; got {per_class}")
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer; got {seed}")
    if not perplexity > 0:
        raise ValueError(f"--perplexity must be positive; got {perplexity}")


def tsne_points(checkpoint: str | Path, model: Optional[str] = None, dataset: Optional[str] = None,
                data_root: Optional[str] = None, split: str = "test", classes: Optional[Sequence[int]] = None,
                per_class: int = 100, seed: int = 0, perplexity: float = 30.0, batch_size: int = 256,
                device: str = "auto") -> TSNEPoints:
    """Draw the images, embed them with the saved network and run t-SNE on the embeddings."""
    _check_options(per_class, seed, perplexity)
    saved = locate_saved_network(checkpoint, model=model, dataset=dataset)
    if saved.dataset is None:
        raise ValueError(f"{saved.path}: the checkpoint does not name its data set; pass --dataset")
    data = load_split(saved.dataset, data_root, split, saved.meta.get("image_size"))
    info = data.info
    chosen = check_classes(classes, info.num_classes)
    subset = data.subset(choose_images(data.labels, chosen, per_class, seed))
    if len(subset) <= len(chosen):
        raise ValueError(f"--per-class {per_class}: t-SNE clusters need more images than classes; "
                         f"got {len(subset)} images of {len(chosen)} classes")
    dev, speed = start_runtime(device, "none")
    network = open_network(saved, info, dev)
    pooled, labels = [], []
    for (outputs,), batch_labels in stream_outputs([network], subset, batch_size, dev, speed):
        pooled.append(outputs.pooled)
        labels.append(batch_labels)
    embeddings = torch.cat(pooled).numpy()
    coords, used = tsne_coordinates(embeddings, seed, perplexity)
    names = list(info.class_names) or _checkpoint_class_names(saved)
    class_names = [names[c] if c < len(names) else str(c) for c in chosen]
    return TSNEPoints(saved, saved.dataset, split, chosen, class_names, per_class, seed, used,
                      embeddings, torch.cat(labels).numpy(), coords)


def _checkpoint_class_names(saved: SavedNetwork) -> list[str]:
    """The class names of the checkpoint's metadata, when it was trained on the data set shown."""
    return list(saved.meta.get("class_names", [])) if saved.meta.get("dataset") == saved.dataset else []


def _class_colours(count: int) -> list:
    import matplotlib

    if count <= 20:
        return list(matplotlib.colormaps["tab10" if count <= 10 else "tab20"].colors[:count])
    turbo = matplotlib.colormaps["turbo"]
    return [turbo(i / (count - 1)) for i in range(count)]


def plot_tsne(points: TSNEPoints, out: Path) -> None:
    """The 2-D points, one colour per class with a legend, written atomically as PNG to ``out``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for c, name, colour in zip(points.classes, points.class_names, _class_colours(len(points.classes))):
        xy = points.coords[points.labels == c]
        ax.scatter(xy[:, 0], xy[:, 1], s=8, color=colour, label=name)
    ax.set_title(f"t-SNE of {points.saved.model} pooled embeddings, {points.dataset} {points.split}")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, format="png", dpi=150)
    os.replace(tmp, out)


def tsne_summary(points: TSNEPoints, png: Path) -> dict[str, Any]:
    """The JSON sidecar of the figure ``png``."""
    from sklearn.metrics import silhouette_score

    return {
        "checkpoint": str(points.saved.path), "model": points.saved.model, "dataset": points.dataset,
        "split": points.split, "classes": points.classes, "class_names": points.class_names,
        "per_class": points.per_class, "points": int(points.labels.shape[0]), "seed": points.seed,
        "perplexity": points.perplexity, "png": png.name,
        "silhouette_embedding": float(silhouette_score(points.embeddings, points.labels, metric="euclidean")),
        "silhouette_2d": float(silhouette_score(points.coords, points.labels, metric="euclidean")),
    }


def write_tsne(checkpoint: str | Path, out: str | Path, **options: Any) -> dict[str, Any]:
    """:func:`tsne_points` (``options`` are its keywords), plotted to the PNG ``out``, with
    the sidecar ``out`` .json next to it; returns the sidecar."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out}: give a .png file name")
    points = tsne_points(checkpoint, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_tsne(points, out)
    summary = tsne_summary(points, out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return summary
