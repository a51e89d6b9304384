"""SP (Tung & Mori, ICCV 2019) as the CRD benchmark runs it (BASELINES.md §3): the batch
similarity matrix of the student's last feature map follows the teacher's; β = 3000."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.sp import sp_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput


@dataclass
class SPHparams(BaselineHparams):
    sp_weight: float = 3000.0


@register_method("sp")
class SP(Baseline):
    """Student trained with CE (+ KD) and SP on the last feature map ``feats[-1]`` (the
    benchmark's ``feats[-2]``); no adapter (the maps' sizes may differ)."""

    paper = papers.SP

    Hparams = SPHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        if student.feats and teacher.feats:
            return ""
        return (f"it reads the last feature map (feats[-1]), and the student has {len(student.feats)} "
                f"feature maps while the teacher has {len(teacher.feats)}")

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.sp_weight:
            return {}
        return {"sp": self.hparams.sp_weight * sp_loss(student.feats[-1], teacher.feats[-1])}
