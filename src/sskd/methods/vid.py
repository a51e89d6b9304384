"""VID (Ahn et al., CVPR 2019) as the CRD benchmark runs it (BASELINES.md §3): for every pair of
stage maps, a 1×1-conv regressor predicts the teacher's map from the student's and a learned
per-channel variance scores it (Gaussian negative log-likelihood); β = 1."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses.spatial import match_spatial
from sskd.losses.vid import vid_log_scale_init, vid_loss
from sskd.methods import papers
from sskd.methods.base import register_method
from sskd.methods.baseline import Baseline, BaselineHparams
from sskd.methods.stage_pairs import stage_count_problem
from sskd.models import ModelOutput

#: The variance σ² every channel starts with.
VID_INIT_VARIANCE = 5.0


def vid_regressor(c_s: int, c_t: int) -> nn.Sequential:
    """``[B, C_s, H, W] → [B, C_t, H, W]``: 1×1 conv C_s→C_t, ReLU, C_t→C_t, ReLU, C_t→C_t,
    no bias (the mid width is C_t)."""
    return nn.Sequential(nn.Conv2d(c_s, c_t, 1, bias=False), nn.ReLU(),
                         nn.Conv2d(c_t, c_t, 1, bias=False), nn.ReLU(),
                         nn.Conv2d(c_t, c_t, 1, bias=False))


class VIDRegressors(nn.Module):
    """VID's trained parts for ``n`` pairs of stage maps: ``regressors[l]`` (C_s → C_t) and
    ``log_scales[l]``, the vector α ``[C_t]`` with σ² = softplus(α) + 1e-5, starting at σ² = 5."""

    def __init__(self, channels: list[tuple[int, int]]):
        super().__init__()
        self.regressors = nn.ModuleList(vid_regressor(c_s, c_t) for c_s, c_t in channels)
        alpha = vid_log_scale_init(VID_INIT_VARIANCE)
        self.log_scales = nn.ParameterList(nn.Parameter(torch.full((c_t,), alpha)) for _, c_t in channels)


@dataclass
class VIDHparams(BaselineHparams):
    vid_weight: float = 1.0


@register_method("vid")
class VID(Baseline):
    """Student trained with CE (+ KD) and ``Σ_l`` VID over the stage maps ``feats[1:]``; the
    regressors and variances are network ``vid_regressors``, trained with the student."""

    paper = papers.VID

    Hparams = VIDHparams

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        return stage_count_problem(student, teacher)

    def __init__(self, context, hparams: VIDHparams):
        super().__init__(context, hparams)
        student, teacher = self.probe(context)
        channels = [(s.shape[1], t.shape[1]) for s, t in zip(student.feats[1:], teacher.feats[1:])]
        self.vid = context.network("vid_regressors", lambda: VIDRegressors(channels))

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        if not self.hparams.vid_weight:
            return {}
        total = 0.0
        for s, t, regressor, alpha in zip(student.feats[1:], teacher.feats[1:], self.vid.regressors,
                                          self.vid.log_scales):
            s, t = match_spatial(s, t)  # the benchmark pools before the regressor
            total = total + vid_loss(regressor(s), t, alpha)
        return {"vid": self.hparams.vid_weight * total}
