"""HSSAKD auxiliary branches for any network, built from its ``ModelOutput`` alone.

The papers' branches (:mod:`sskd.models.branches`) copy a known family's stages. For a
network without such a recipe (a torchvision or timm classifier wrapped by
``FeatureAdapter``) the same design rule (HSSAKD.md §2.2) is followed with a generic
stage: branch ``l`` on tap ``l`` runs one 3×3 conv–BN–ReLU per later tap, each with that
tap's width and down-sampling, so that it ends at the deepest tap's width and size; the
branch on the deepest tap is one stride-1 conv–BN–ReLU of the same width. Then global
average pooling and one linear layer to ``N·M`` joint logits. Taps are the stage outputs
after the stem (``feats[1:]``), the deepest four at most.
"""

from __future__ import annotations

import torch
from torch import nn

from sskd.models.external import PROBE_SIZE
from sskd.models.init import init_conv_bn_fan_out

MAX_TAPS = 4


def conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def probe(backbone: nn.Module) -> tuple[list[tuple[int, int]], int]:
    """``(channels, height)`` of every ``feats`` entry for a ``PROBE_SIZE`` input, and the
    number of classes (one probe forward in eval mode; on the ``meta`` device it allocates
    nothing)."""
    device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            out = backbone(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE, device=device))
    finally:
        backbone.train(was_training)
    return [(f.shape[1], f.shape[2]) for f in out.feats], out.logits.shape[1]


def generic_branches(backbone: nn.Module, num_classes: int | None = None, num_rotations: int = 4):
    """:class:`~sskd.models.branches.AuxBranches` for ``backbone`` (any network returning a
    ``ModelOutput`` whose ``feats`` are 4-D maps). Each branch maps
    ``[N, C_l, H_l, W_l] → [N, num_classes · num_rotations]``; ``num_classes`` defaults to
    the backbone's."""
    from sskd.models.branches import AuxBranch, AuxBranches

    shapes, classes = probe(backbone)
    num_classes = classes if num_classes is None else num_classes
    if len(shapes) < 2:
        raise ValueError(f"{type(backbone).__name__} has {len(shapes)} stage output(s); auxiliary "
                         f"branches need at least one after the stem")
    first = max(1, len(shapes) - MAX_TAPS)
    taps = list(range(first, len(shapes)))
    widths = [shapes[t][0] for t in taps]
    heights = [shapes[t][1] for t in taps]
    branches = []
    for l in range(len(taps)):
        if l < len(taps) - 1:
            layers, cin = [], widths[l]
            for j in range(l + 1, len(taps)):
                layers.append(conv_bn_relu(cin, widths[j], max(1, round(heights[j - 1] / heights[j]))))
                cin = widths[j]
        else:
            layers = [conv_bn_relu(widths[-1], widths[-1], 1)]
        branch = AuxBranch(nn.Sequential(*layers), None, widths[-1], num_classes * num_rotations)
        init_conv_bn_fan_out(branch)
        branches.append(branch)
    return AuxBranches(branches, taps, widths, num_classes, num_rotations, family="generic")
