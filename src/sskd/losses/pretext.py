"""Teacher-side losses of the pretext tasks other than contrastive matching (SSKD paper,
Xu et al., ECCV 2020, Table 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def batch_hard_triplet_loss(similarity: Tensor, targets: Tensor, margin: float = 0.5) -> Tensor:
    """Exemplar triplet loss on cosine similarities, with the hardest negative of the batch.

    For transformed row ``a`` (an exemplar view of image ``targets[a]``) the positive is its
    own normal image, the negative the most similar *other* normal image:
    ``mean_a relu(max_{n ≠ t_a} A[a, n] − A[a, t_a] + margin)`` (Dosovitskiy et al.,
    NeurIPS 2014, in the triplet form of Kolesnikov, Zhai, Beyer, CVPR 2019).

    ``similarity [M, B]`` (cosines, see :func:`sskd.losses.similarity_matrix`),
    ``targets [M]`` → scalar. With a single image (``B`` = 1) there is no negative and the
    loss is 0.
    """
    similarity = similarity.float()
    positive = similarity.gather(1, targets.unsqueeze(1)).squeeze(1)
    is_target = F.one_hot(targets, similarity.shape[1]).bool()
    hardest = similarity.masked_fill(is_target, float("-inf")).amax(dim=1)
    return torch.relu(hardest - positive + margin).mean()
