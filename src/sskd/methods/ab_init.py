"""AB's init stage (Heo et al., AAAI 2019) as the CRD benchmark runs it (BASELINES.md §3): the
connectors and the student's feature extractor learn the teacher's activation boundaries on
the pre-activation stage maps, with the AB loss alone (no β), before the main stage (``ab``).
The benchmark trains 30 epochs at the student's base lr, constant (the ``ab`` preset)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.losses.ab import ab_loss
from sskd.methods import papers
from sskd.methods.adapters import ConvReg, feature_shape, shape_conv
from sskd.methods.base import register_method
from sskd.methods.feature_init import FeatureInit
from sskd.methods.stage_pairs import stage_count_problem
from sskd.models import ModelOutput


def ab_connectors(student_maps: list[Tensor], teacher_maps: list[Tensor]) -> nn.ModuleList:
    """One connector per pair of stage maps ``[B, C, H, W]``: the identity where the shapes
    match, else :class:`ConvReg` without ReLU (conv, BatchNorm)."""
    return nn.ModuleList(
        nn.Identity() if feature_shape(s) == feature_shape(t)
        else ConvReg(feature_shape(s), feature_shape(t), relu=False)
        for s, t in zip(student_maps, teacher_maps))


def ab_pair_problem(student: ModelOutput, teacher: ModelOutput) -> str:
    """Why AB cannot serve the pair (the end of one sentence), ``""`` if it can."""
    problem = stage_count_problem(student, teacher)
    if problem:
        return problem
    for s, t in zip(student.feats[1:], teacher.feats[1:]):
        if feature_shape(s) != feature_shape(t):
            try:
                shape_conv(feature_shape(s), feature_shape(t))
            except ValueError as exc:
                return str(exc)
    return ""


@dataclass
class ABInitHparams:
    margin: float = 1.0


@register_method("ab_init")
class ABInit(FeatureInit):
    """Trains ``networks["ab_connectors"]`` and the student's feature extractor (every
    parameter but its classifier) on ``Σ_l w_l·ℓ_l·3/(1000·B)`` between the connected
    student pre-activations ``preact_feats[1:]`` and the teacher's. Loss key ``ab``."""

    paper = papers.AB

    Hparams = ABInitHparams
    preact = True

    @classmethod
    def check_hparams(cls, hparams: ABInitHparams) -> None:
        if not hparams.margin >= 0:
            raise ValueError(f"{cls.method_name}: margin must be >= 0, got {hparams.margin}")

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return ab_pair_problem(student, teacher)

    def __init__(self, context, hparams: ABInitHparams):
        super().__init__(context, hparams)
        student, teacher = self.probe(context)
        self.connectors = context.network(
            "ab_connectors", lambda: ab_connectors(student.preact_feats[1:], teacher.preact_feats[1:]))

    def adapters(self) -> list[nn.Module]:
        return [self.connectors]

    def init_losses(self, student: ModelOutput, teacher: ModelOutput) -> dict[str, Tensor]:
        connected = [connect(s) for connect, s in zip(self.connectors, student.preact_feats[1:])]
        return {"ab": ab_loss(connected, teacher.preact_feats[1:], self.hparams.margin)}
