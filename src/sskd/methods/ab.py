"""AB (Heo et al., AAAI 2019) as the CRD benchmark runs it (BASELINES.md §3): after the init
stage (``ab_init``) has shaped the student's features, the main stage trains the student with
CE (+ KD) alone. The benchmark's main-stage AB term is 0, so ``ab_weight`` (β = 1, kept for
fidelity with its command line) has no effect; the connectors stay unused."""

from __future__ import annotations

from dataclasses import dataclass

from sskd.methods import papers
from sskd.methods.ab_init import ab_pair_problem
from sskd.methods.after_init import AfterInitStage
from sskd.methods.base import register_method
from sskd.methods.baseline import BaselineHparams
from sskd.models import ModelOutput


@dataclass
class ABHparams(BaselineHparams):
    ab_weight: float = 1.0  # no effect: the benchmark's main stage has no AB term


@register_method("ab")
class AB(AfterInitStage):
    """The student, as ``ab_init`` left it, trained with CE (+ KD)."""

    paper = papers.AB

    Hparams = ABHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return ab_pair_problem(student, teacher)
