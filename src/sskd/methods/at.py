"""AT (Zagoruyko & Komodakis, ICLR 2017) as the CRD benchmark runs it (BASELINES.md §3): the
student's spatial attention maps (p = 2) follow the teacher's at every stage; β = 1000."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.at import at_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.methods.stage_pairs import stage_count_problem
from sskd.models import ModelOutput


@dataclass
class ATHparams(BaselineHparams):
    at_weight: float = 1000.0


@register_method("at")
class AT(Baseline):
    """Student trained with CE (+ KD) and ``Σ_l`` AT over the stage maps ``feats[1:]``; no
    adapter."""

    paper = papers.AT

    Hparams = ATHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return stage_count_problem(student, teacher)

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.at_weight:
            return {}
        return {"at": self.hparams.at_weight * at_loss(student.feats[1:], teacher.feats[1:])}
