"""FitNet (Romero et al., ICLR 2015) as the CRD benchmark runs it (BASELINES.md §3): a ConvReg
regressor maps the student's ``feats[2]`` onto the teacher's, trained jointly with the student
in one stage (no separate hint stage); β = 100."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.fitnet import hint_loss
from sskd.methods import papers
from sskd.methods.adapters import ConvReg, feature_shape, shape_conv
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput

HINT_LAYER = 2


@dataclass
class FitNetHparams(BaselineHparams):
    fitnet_weight: float = 100.0


@register_method("fitnet")
class FitNet(Baseline):
    """Student trained with CE (+ KD) and the MSE between ``regressor(student.feats[2])`` and
    the teacher's ``feats[2]``; the regressor is network ``fitnet_regressor``."""

    paper = papers.FITNET

    Hparams = FitNetHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        if min(len(student.feats), len(teacher.feats)) <= HINT_LAYER:
            return f"its hint layer feats[{HINT_LAYER}] is missing (the networks have {len(student.feats)} " \
                   f"and {len(teacher.feats)} feature maps)"
        try:
            shape_conv(feature_shape(student.feats[HINT_LAYER]), feature_shape(teacher.feats[HINT_LAYER]))
        except ValueError as exc:
            return str(exc)
        return ""

    def __init__(self, context, hparams: FitNetHparams):
        super().__init__(context, hparams)
        student, teacher = self.probe(context)
        self.regressor = context.network("fitnet_regressor", lambda: ConvReg(
            feature_shape(student.feats[HINT_LAYER]), feature_shape(teacher.feats[HINT_LAYER])))

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.fitnet_weight:
            return {}
        regressed = self.regressor(student.feats[HINT_LAYER])
        return {"fitnet": self.hparams.fitnet_weight * hint_loss(regressed, teacher.feats[HINT_LAYER])}
