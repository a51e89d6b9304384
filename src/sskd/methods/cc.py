"""CC (Peng et al., ICCV 2019) as the CRD benchmark runs it (BASELINES.md §3): the pooled
embeddings of student and teacher each go through a trained linear embedding (d → 128, no
normalisation) and the CRD authors' correlation loss compares them; β = 0.02. Both embeddings
are trained, the teacher-side one included."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses.cc import cc_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput


@dataclass
class CCHparams(BaselineHparams):
    cc_weight: float = 0.02
    feat_dim: int = 128


class LinearEmbed(nn.Module):
    """``Linear(d → feat_dim, bias)``, no normalisation: ``[B, d]`` → ``[B, feat_dim]``."""

    def __init__(self, dim_in: int, feat_dim: int = 128):
        super().__init__()
        self.linear = nn.Linear(dim_in, feat_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))


@register_method("cc")
class CC(Baseline):
    """Student trained with CE (+ KD) and β·CC on the embedded pooled features; the embeddings
    are networks ``cc_embed_student`` and ``cc_embed_teacher``, both trained with the student."""

    paper = papers.CC

    Hparams = CCHparams

    @classmethod
    def check_hparams(cls, hparams: CCHparams) -> None:
        super().check_hparams(hparams)
        if hparams.feat_dim < 1:
            raise ValueError(f"{cls.method_name}: feat_dim must be >= 1, got {hparams.feat_dim}")

    def __init__(self, context, hparams: CCHparams):
        super().__init__(context, hparams)
        if not hparams.cc_weight:
            return
        student, teacher = self.probe(context)
        dim = hparams.feat_dim
        self.embed_student = context.network(
            "cc_embed_student", lambda: LinearEmbed(student.pooled.flatten(1).shape[1], dim))
        self.embed_teacher = context.network(
            "cc_embed_teacher", lambda: LinearEmbed(teacher.pooled.flatten(1).shape[1], dim))

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.cc_weight:
            return {}
        e_s, e_t = self.embed_student(student.pooled), self.embed_teacher(teacher.pooled)
        return {"cc": self.hparams.cc_weight * cc_loss(e_s, e_t)}
