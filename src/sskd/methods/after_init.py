"""The main stage of a baseline whose feature loss acts only in its init stage (AB, FSP, as
the CRD benchmark codes them, BASELINES.md §3): the student, as the init stage left it,
trained with CE (+ KD). The method's β stays a hyper-parameter, for fidelity with the
benchmark's command line, but has no effect."""

from __future__ import annotations

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.methods.baseline import Baseline, loss_weights
from sskd.models import ModelOutput


class AfterInitStage(Baseline):
    """A :class:`Baseline` with no method term; refuses ``ce_weight = kd_weight = 0``."""

    @classmethod
    def check_hparams(cls, hparams) -> None:
        super().check_hparams(hparams)
        if not (hparams.ce_weight or hparams.kd_weight):
            unused = [k for k in loss_weights(hparams) if k not in ("ce_weight", "kd_weight")]
            raise ValueError(f"{cls.method_name}: the main stage trains on CE and KD only ({', '.join(unused)} "
                             f"has no effect, as in the benchmark's code); set ce_weight or kd_weight above 0")

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        return {}
