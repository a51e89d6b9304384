"""FSP (Yim et al., CVPR 2017) as the CRD benchmark runs it (BASELINES.md §3): after the init
stage (``fsp_init``) has shaped the student's features, the main stage trains the student with
CE (+ KD) alone. The benchmark's main-stage FSP term is 0, so ``fsp_weight`` (β = 50, kept for
fidelity with its command line) has no effect. Only pairs with equal channel counts at every
feature map can be served (the benchmark marks the others N/A)."""

from __future__ import annotations

from dataclasses import dataclass

from sskd.methods import papers
from sskd.methods.after_init import AfterInitStage
from sskd.methods.base import register_method
from sskd.methods.baseline import BaselineHparams
from sskd.methods.fsp_init import fsp_pair_problem
from sskd.models import ModelOutput


@dataclass
class FSPHparams(BaselineHparams):
    fsp_weight: float = 50.0  # no effect: the benchmark's main stage has no FSP term


@register_method("fsp")
class FSP(AfterInitStage):
    """The student, as ``fsp_init`` left it, trained with CE (+ KD)."""

    paper = papers.FSP

    Hparams = FSPHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return fsp_pair_problem(student, teacher)
