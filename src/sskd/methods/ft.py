"""FT (Kim et al., NeurIPS 2018) as the CRD benchmark runs it (BASELINES.md §3): the student's
last feature map goes through a trained translator, the teacher's through the encoder of the
paraphraser an ``ft_paraphraser`` stage trained before (frozen, eval mode), and the L1
distance of their normalised spatial maps is added to CE (+ KD); β = 200."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.ft import ft_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.methods.ft_networks import translator
from sskd.models import ModelOutput

PARAPHRASER_STAGE = "ft_paraphraser"
NO_PARAPHRASER = (f"needs the paraphraser that an '{PARAPHRASER_STAGE}' stage trains: run the 'ft' preset "
                  f"(stages ft_paraphraser, then ft), or add a stage with method {PARAPHRASER_STAGE} before it")


@dataclass
class FTHparams(BaselineHparams):
    ft_weight: float = 200.0


@register_method("ft")
class FT(Baseline):
    """Student trained with CE (+ KD) and ``L_FT(translator(student.feats[-1]),
    paraphraser.encoder(teacher.feats[-1]))``; the translator is network ``ft_translator``,
    the paraphraser ``ft_paraphraser`` (frozen here)."""

    paper = papers.FT

    Hparams = FTHparams
    frozen = ("teacher", "paraphraser")

    @classmethod
    def check_run(cls, config, index: int) -> None:
        super().check_run(config, index)
        if not any(stage.method == PARAPHRASER_STAGE for stage in config.stages[:index]):
            raise ValueError(f"{cls.method_name} (stage {config.stages[index].name!r}) {NO_PARAPHRASER}")

    def __init__(self, context, hparams: FTHparams):
        super().__init__(context, hparams)
        if PARAPHRASER_STAGE not in context.networks:
            raise ValueError(f"{context.stage.method} {NO_PARAPHRASER}")
        self.paraphraser = context.networks[PARAPHRASER_STAGE].requires_grad_(False).eval()
        student, _ = self.probe(context)
        out = self.paraphraser.factor_channels
        self.translator = context.network("ft_translator", lambda: translator(student.feats[-1].shape[1], out))

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.ft_weight:
            return {}
        teacher_factor = self.run_frozen(self.paraphraser.encoder, teacher.feats[-1])
        student_factor = self.translator(student.feats[-1])
        return {"ft": self.hparams.ft_weight * ft_loss(student_factor, teacher_factor)}
