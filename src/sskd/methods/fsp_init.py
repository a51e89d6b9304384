"""FSP's init stage (Yim et al., CVPR 2017) as the CRD benchmark runs it (BASELINES.md §3): the
student's feature extractor learns the teacher's flow matrices with the FSP loss alone (no β),
before the main stage (``fsp``). The benchmark trains 30 epochs at the student's base lr,
constant (the ``fsp`` preset)."""

from __future__ import annotations

from torch import Tensor

from sskd.losses.fsp import fsp_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.feature_init import FeatureInit
from sskd.models import ModelOutput


def fsp_pair_problem(student: ModelOutput, teacher: ModelOutput) -> str:
    """Why FSP cannot serve the pair (the end of one sentence), ``""`` if it can."""
    s_channels = [f.shape[1] for f in student.feats]
    t_channels = [f.shape[1] for f in teacher.feats]
    if s_channels == t_channels:
        return ""
    return (f"FSP compares the two networks' flow matrices entry by entry, so they need as many feature "
            f"maps with equal channel counts, and the student's are {s_channels}, the teacher's {t_channels}")


@register_method("fsp_init")
class FSPInit(FeatureInit):
    """Trains the student's feature extractor (every parameter but its classifier) on
    ``Σ_k mean (G_s − G_t)²`` over consecutive pairs of ``feats`` (stem and stages). Loss key
    ``fsp``."""

    paper = papers.FSP

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return fsp_pair_problem(student, teacher)

    def init_losses(self, student: ModelOutput, teacher: ModelOutput) -> dict[str, Tensor]:
        return {"fsp": fsp_loss(student.feats, teacher.feats)}
