"""NST (Huang & Wang, arXiv 2017) as the CRD benchmark runs it (BASELINES.md §3): the polynomial
MMD between the student's and the teacher's channel activation patterns at every stage;
β = 50."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.nst import nst_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.methods.stage_pairs import stage_count_problem
from sskd.models import ModelOutput


@dataclass
class NSTHparams(BaselineHparams):
    nst_weight: float = 50.0


@register_method("nst")
class NST(Baseline):
    """Student trained with CE (+ KD) and ``Σ_l`` NST over the stage maps ``feats[1:]``; no
    adapter (channel counts may differ)."""

    paper = papers.NST

    Hparams = NSTHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return stage_count_problem(student, teacher)

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.nst_weight:
            return {}
        return {"nst": self.hparams.nst_weight * nst_loss(student.feats[1:], teacher.feats[1:])}
