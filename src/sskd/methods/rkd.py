"""RKD (Park et al., CVPR 2019) as the CRD benchmark runs it (BASELINES.md §3): the distance
(w_d = 25) and angle (w_a = 50) relations among the batch's pooled embeddings follow the
teacher's; β = 1."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.rkd import RKD_ANGLE_WEIGHT, RKD_DISTANCE_WEIGHT, rkd_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput


@dataclass
class RKDHparams(BaselineHparams):
    rkd_weight: float = 1.0
    w_d: float = RKD_DISTANCE_WEIGHT
    """The distance term's weight inside L_RKD."""
    w_a: float = RKD_ANGLE_WEIGHT
    """The angle term's weight inside L_RKD."""


@register_method("rkd")
class RKD(Baseline):
    """Student trained with CE (+ KD) and β·RKD on the pooled embeddings (``pooled``, the
    benchmark's ``feats[-1]``); no adapter (the widths may differ)."""

    paper = papers.RKD

    Hparams = RKDHparams

    @classmethod
    def check_hparams(cls, hparams: RKDHparams) -> None:
        super().check_hparams(hparams)
        if hparams.w_d < 0 or hparams.w_a < 0:
            raise ValueError(f"{cls.method_name}: w_d and w_a must be >= 0, got {hparams.w_d} and {hparams.w_a}")
        if hparams.rkd_weight and not (hparams.w_d or hparams.w_a):
            raise ValueError(f"{cls.method_name}: rkd_weight is {hparams.rkd_weight} but w_d and w_a are both 0")

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        hp = self.hparams
        if not hp.rkd_weight:
            return {}
        return {"rkd": hp.rkd_weight * rkd_loss(student.pooled, teacher.pooled, hp.w_d, hp.w_a)}
