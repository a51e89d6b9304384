"""The one answer every network in sskd gives: :class:`ModelOutput`."""

from __future__ import annotations

from typing import NamedTuple, Optional

from torch import Tensor


class ModelOutput(NamedTuple):
    """What a network returns for a batch of ``N`` images.

    Attributes:
        logits: ``[N, K]`` class scores.
        feats: feature maps in depth order, ``feats[i]`` of shape ``[N, C_i, H_i, W_i]``.
            ``feats[0]`` is the stem (for VGG: the first block), ``feats[1:]`` the stage
            outputs after their final activation — the convention of the CRD/RepDistiller
            benchmark that SSKD and HSSAKD build on (their ``feats[:-1]``).
        preact_feats: the same maps taken before each stage's final activation (equal to
            ``feats[i]`` where a stage ends without one; the stem, index 0, is always
            reported after its activation, as in RepDistiller), or ``None`` unless the
            network was called with ``preact=True``.
        pooled: ``[N, D]`` the embedding the classifier reads (global average pool of the
            last map, after any head convolution), i.e. RepDistiller's ``feats[-1]``.
    """

    logits: Tensor
    feats: list[Tensor]
    preact_feats: Optional[list[Tensor]]
    pooled: Tensor
