"""Pretext tasks whose teacher answers a student can mimic (SSKD, Xu et al., ECCV 2020,
Sec. 3 and Table 2).

A task says which views a batch holds, which head sits on the pooled embedding, what
the head's output *scores* are for each view and which score is the right one, and how
the teacher's head is trained. The student mimics the teacher's scores row by row
(:func:`sskd.losses.sskd_ss_loss`: softened KL with selective transfer ranked by the
right score), whatever the task, so every task plugs into the same SSKD method.

Shapes: a batch of ``B`` images with ``V`` views; ``h`` is the head's output for the
flattened views, ``[B·V, E]`` image-major (row ``V·i + v``). ``scores`` is ``[R, K]``
and ``targets`` ``[R]``.

=============  =====================  ==========================================  ===============
task           views (default)        scores ``[R, K]`` / targets                 teacher loss
=============  =====================  ==========================================  ===============
contrastive    any, V ≥ 2 (``sskd``)  cosine of each transformed view with every  cross-entropy
                                      normal view of the batch ``[(V-1)·B, B]``;   (temperature)
                                      target: its own image
exemplar       any, V ≥ 2             the same similarity matrix                   batch-hard
               (``sskd_paper``)                                                    triplet (margin)
rotation       ``sskd``, ``hssakd``   4-way rotation logits of every view          cross-entropy
                                      ``[V·B, 4]``; target: the rotation
jigsaw         ``jigsaw``             24-way permutation logits of every view     cross-entropy
                                      ``[V·B, 24]``; target: the permutation
=============  =====================  ==========================================  ===============
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.data.views import VIEW_MAKERS, MultiViewBatch, jigsaw_targets
from sskd.losses import batch_hard_triplet_loss, contrastive_targets, similarity_matrix
from sskd.registry import Registry
from sskd.selfsup.head import PredictionHead, ProjectionHead

JIGSAW_CLASSES = 24
"""Permutations of the 2 × 2 tiles of the ``jigsaw`` view maker (``4!``)."""


class PretextTask:
    """Base class; see the module docstring. ``temperature`` divides the scores in the
    teacher's cross-entropy (the released contrastive head uses 1); ``margin`` is the
    exemplar triplet margin."""

    name: ClassVar[str] = ""
    default_views: ClassVar[str] = "sskd"
    allowed_views: ClassVar[Optional[tuple[str, ...]]] = None

    def __init__(self, views: Optional[str] = None, temperature: float = 1.0, margin: float = 0.5):
        self.views = views or self.default_views
        VIEW_MAKERS.get(self.views)
        if self.allowed_views is not None and self.views not in self.allowed_views:
            raise ValueError(f"pretext task {self.name!r} needs views {' or '.join(self.allowed_views)}, "
                             f"got {self.views!r}")
        if not temperature > 0:
            raise ValueError(f"pretext task {self.name!r}: temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.margin = margin

    def make_head(self, dim: int) -> nn.Module:
        """The head on the pooled embedding, ``[N, dim] → [N, E]``."""
        raise NotImplementedError

    def outputs(self, h: Tensor, batch: MultiViewBatch) -> tuple[Tensor, Tensor]:
        """Head outputs ``[B·V, E]`` → ``(scores [R, K], targets [R])``."""
        raise NotImplementedError

    def teacher_loss(self, scores: Tensor, targets: Tensor) -> Tensor:
        """The loss that trains the teacher's head (backbone frozen)."""
        return F.cross_entropy(scores.float() / self.temperature, targets)


PRETEXT_TASKS: Registry[type[PretextTask]] = Registry("pretext task")


def register_pretext_task(name: str):
    """Class decorator registering a :class:`PretextTask` under ``name``."""
    return PRETEXT_TASKS.class_decorator(name)


def build_pretext_task(name: str, views: Optional[str] = None, temperature: float = 1.0,
                       margin: float = 0.5) -> PretextTask:
    """The task registered as ``name``; an unknown name lists the valid ones."""
    return PRETEXT_TASKS.get(name)(views=views, temperature=temperature, margin=margin)


def list_pretext_tasks() -> list[str]:
    return sorted(PRETEXT_TASKS)


def _normal_vs_transformed(h: Tensor, batch: MultiViewBatch) -> tuple[Tensor, Tensor]:
    b, v = batch.views.shape[:2]
    if v < 2:
        raise ValueError("a similarity pretext task needs views with at least one transformed view")
    grouped = h.view(b, v, -1)
    scores = similarity_matrix(grouped[:, 1:].reshape(b * (v - 1), -1), grouped[:, 0])
    return scores, contrastive_targets(b, v - 1, device=h.device)


@register_pretext_task("contrastive")
class ContrastiveTask(PretextTask):
    """SSKD's task (paper Eq. 4–5, released code SSKD.md §2.2): each transformed view must
    pick its own normal image among the batch's normal images by cosine similarity of the
    projection-head outputs."""

    def make_head(self, dim):
        return ProjectionHead(dim)

    def outputs(self, h, batch):
        return _normal_vs_transformed(h, batch)


@register_pretext_task("exemplar")
class ExemplarTask(PretextTask):
    """Exemplar (Dosovitskiy et al., NeurIPS 2014), batch-level triplet form: the views of
    one image are one surrogate class; the head is trained so that each transformed view is
    closer (cosine) to its own normal image than to the batch's hardest other image by
    ``margin``. Scores are the same similarity matrix as ``contrastive``."""

    default_views = "sskd_paper"

    def make_head(self, dim):
        return ProjectionHead(dim)

    def outputs(self, h, batch):
        return _normal_vs_transformed(h, batch)

    def teacher_loss(self, scores, targets):
        return batch_hard_triplet_loss(scores, targets, self.margin)


@register_pretext_task("rotation")
class RotationTask(PretextTask):
    """Rotation prediction (Gidaris, Singh, Komodakis, ICLR 2018): a 4-way classifier on
    every view's embedding says by how many quarter turns the view was rotated (the
    normal view: 0)."""

    allowed_views = ("sskd", "hssakd")

    def make_head(self, dim):
        return PredictionHead(dim, 4)

    def outputs(self, h, batch):
        return h.float(), batch.transform_ids.reshape(-1)


@register_pretext_task("jigsaw")
class JigsawTask(PretextTask):
    """Jigsaw (Noroozi & Favaro, ECCV 2016), whole-image form: every view has had its
    2 × 2 tiles shuffled by one of the 24 permutations (the normal view: the identity), and
    a 24-way classifier on the view's embedding names the permutation."""

    default_views = "jigsaw"
    allowed_views = ("jigsaw",)

    def make_head(self, dim):
        return PredictionHead(dim, JIGSAW_CLASSES)

    def outputs(self, h, batch):
        return h.float(), jigsaw_targets(batch.transform_ids).reshape(-1)
