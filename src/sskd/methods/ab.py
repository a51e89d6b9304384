"""AB (Heo et al., AAAI 2019) as the CRD benchmark runs it (BASELINES.md §3): after the init
stage (``ab_init``) has shaped the student's features, the main stage trains the student with
CE (+ KD) alone. The benchmark's main-stage AB term is 0, so ``ab_weight`` (β = 1, kept for
fidelity with its command line) has no effect; the connectors stay unused."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from sskd.data.views import MultiViewBatch
from sskd.methods import papers
from sskd.methods.ab_init import ab_pair_problem
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.models import ModelOutput


@dataclass
class ABHparams(BaselineHparams):
    ab_weight: float = 1.0  # no effect: the benchmark's main stage has no AB term


@register_method("ab")
class AB(Baseline):
    """The student, as ``ab_init`` left it, trained with CE (+ KD)."""

    paper = papers.AB

    Hparams = ABHparams

    @classmethod
    def check_hparams(cls, hparams: ABHparams) -> None:
        super().check_hparams(hparams)
        if not (hparams.ce_weight or hparams.kd_weight):
            raise ValueError(f"{cls.method_name}: the main stage trains on CE and KD only (ab_weight has no "
                             f"effect, as in the benchmark's code); set ce_weight or kd_weight above 0")

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return ab_pair_problem(student, teacher)

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        return {}
