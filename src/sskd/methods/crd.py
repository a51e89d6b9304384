"""CRD (Tian, Krishnan, Isola, "Contrastive Representation Distillation", ICLR 2020) as the CRD
benchmark runs it (BASELINES.md §4): the student's and the teacher's pooled embeddings go
through trained Embed heads (Linear d→128 + L2 normalisation) and are contrasted, each against
the other side's memory of the whole training set, with 16384 negatives from other classes;
L_CRD = L(student side) + L(teacher side), β = 0.8."""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses.crd import crd_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.methods.crd_memory import MODES, CRDMemory, normalize_rows
from sskd.models import ModelOutput


@dataclass
class CRDHparams(BaselineHparams):
    crd_weight: float = 0.8
    feat_dim: int = 128
    nce_k: int = 16384
    nce_t: float = 0.07
    nce_m: float = 0.5
    mode: str = "exact"
    """``exact`` (the benchmark), ``relax`` (a same-class positive) or ``uniform`` (class-agnostic
    negatives); see :mod:`sskd.methods.crd_memory`."""


class Embed(nn.Module):
    """CRD's head: ``Linear(d → feat_dim, bias)`` then ``x / ‖x‖₂`` (no eps), ``[B, d] → [B, feat_dim]``;
    normalised in float32."""

    def __init__(self, dim_in: int, feat_dim: int = 128):
        super().__init__()
        self.linear = nn.Linear(dim_in, feat_dim)

    def forward(self, x: Tensor) -> Tensor:
        return normalize_rows(self.linear(x.flatten(1)).float())


def bank_size(n: int, feat_dim: int) -> str:
    """The two float32 memories' size in words, e.g. ``2 × 50000 × 128 float32 = 51.2 MB``."""
    size = 2 * n * feat_dim * 4
    amount = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"
    return f"2 × {n} × {feat_dim} float32 = {amount}"


def _report_bank(n: int, feat_dim: int) -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
        return
    print(f"crd: memory bank {bank_size(n, feat_dim)}", flush=True)


@register_method("crd")
class CRD(Baseline):
    """Student trained with CE (+ KD) and β·L_CRD. Networks: ``crd_embed_student``,
    ``crd_embed_teacher`` (trained) and ``crd_memory`` (buffers only). Needs the training
    labels (``context.train_labels``) and the batches' data-set indices (``batch.indices``)."""

    paper = papers.CRD
    memory_bank = True

    Hparams = CRDHparams

    @classmethod
    def check_hparams(cls, hparams: CRDHparams) -> None:
        super().check_hparams(hparams)
        problems = []
        if hparams.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}, got {hparams.mode!r}")
        if hparams.feat_dim < 1 or hparams.nce_k < 1:
            problems.append(f"feat_dim and nce_k must be >= 1, got {hparams.feat_dim} and {hparams.nce_k}")
        if not hparams.nce_t > 0:
            problems.append(f"nce_t must be > 0, got {hparams.nce_t}")
        if not 0 <= hparams.nce_m <= 1:
            problems.append(f"nce_m must lie in [0, 1], got {hparams.nce_m}")
        if problems:
            raise ValueError(f"{cls.method_name}: {'; '.join(problems)}")

    def __init__(self, context, hparams: CRDHparams):
        super().__init__(context, hparams)
        if not hparams.crd_weight:
            return
        if context.train_labels is None:
            raise ValueError("crd: the method context has no train_labels; CRD's memory bank needs the "
                             "label of every training image (the engine fills them in a run)")
        student, teacher = self.probe(context)
        hp = hparams
        self.embed_student = context.network(
            "crd_embed_student", lambda: Embed(student.pooled.flatten(1).shape[1], hp.feat_dim))
        self.embed_teacher = context.network(
            "crd_embed_teacher", lambda: Embed(teacher.pooled.flatten(1).shape[1], hp.feat_dim))
        labels = context.train_labels
        self.memory = context.network("crd_memory", lambda: self._build_memory(labels, hp))

    @staticmethod
    def _build_memory(labels: Tensor, hp: CRDHparams) -> CRDMemory:
        memory = CRDMemory(labels, hp.feat_dim, hp.nce_k, hp.nce_t, hp.nce_m, hp.mode)
        _report_bank(memory.n_data, hp.feat_dim)
        return memory

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.crd_weight:
            return {}
        if batch.indices is None:
            raise ValueError("crd: the batch has no data-set indices (MultiViewBatch.indices); CRD's "
                             "memory bank is indexed by them (the engine's training batches carry them)")
        v_s = self.embed_student(student.pooled)
        v_t = self.embed_teacher(teacher.pooled)
        scores_s, scores_t = self.memory(v_s, v_t, batch.indices)
        return {"crd": self.hparams.crd_weight * crd_loss(scores_s, scores_t, self.memory.n_data)}
