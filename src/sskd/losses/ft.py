"""FT losses (Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via Factor
Transfer", NeurIPS 2018), as the CRD benchmark codes them (BASELINES.md §3): the paraphraser's
reconstruction loss and the factor-transfer loss between translator and paraphraser factors.

The factor loss compares AT-style spatial maps of the factors (p1 = 2, p2 = 1), not the
paper's L2-normalised flattened factors; SSKD's baselines used this form."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sskd.losses.at import attention_map
from sskd.losses.precision import in_float32
from sskd.losses.spatial import match_spatial


@in_float32
def ft_loss(student_factor: Tensor, teacher_factor: Tensor) -> Tensor:
    """``mean over (B, H·W) of |φ(f_s) − φ(f_t)|`` → scalar, with φ AT's spatial map
    :func:`~sskd.losses.at.attention_map` of the factor, after the larger map is pooled to
    the smaller size (:func:`match_spatial`). ``student_factor``: the translator's output
    ``[B, C_f, H_s, W_s]``; ``teacher_factor``: the paraphraser encoder's ``[B, C_f', H_t, W_t]``
    (detached; the channel counts may differ)."""
    student_factor, teacher_factor = match_spatial(student_factor, teacher_factor.detach())
    return (attention_map(student_factor) - attention_map(teacher_factor)).abs().mean()


def ft_reconstruction_loss(reconstructed: Tensor, teacher_map: Tensor) -> Tensor:
    """The paraphraser's init-stage loss: mean squared error between its reconstruction and
    the teacher's last map, both ``[B, C_t, H_t, W_t]`` → scalar."""
    if reconstructed.shape != teacher_map.shape:
        raise ValueError(f"ft_reconstruction_loss: reconstruction {tuple(reconstructed.shape)} and teacher map "
                         f"{tuple(teacher_map.shape)} must have the same shape")
    return F.mse_loss(reconstructed, teacher_map.detach())
