"""PKT (Passalis & Tefas, ECCV 2018) as the CRD benchmark runs it (BASELINES.md §3): the
student's cosine-kernel probabilities over the batch's pooled embeddings follow the teacher's;
β = 30000."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.losses.pkt import pkt_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput


@dataclass
class PKTHparams(BaselineHparams):
    pkt_weight: float = 30000.0


@register_method("pkt")
class PKT(Baseline):
    """Student trained with CE (+ KD) and PKT on the pooled embeddings (``pooled``, the
    benchmark's ``feats[-1]``); no adapter (the widths may differ)."""

    paper = papers.PKT

    Hparams = PKTHparams

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.pkt_weight:
            return {}
        return {"pkt": self.hparams.pkt_weight * pkt_loss(student.pooled, teacher.pooled)}
