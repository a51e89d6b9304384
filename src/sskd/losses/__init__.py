"""Losses as pure functions (tensors in, tensor out), each citing its paper."""

from sskd.losses.hssakd import class_logits_from_joint, hierarchical_kd_loss, joint_cross_entropy
from sskd.losses.kd import kd_loss, kl_div_rows
from sskd.losses.pretext import batch_hard_triplet_loss
from sskd.losses.selective import error_rank, selective_mask
from sskd.losses.sskd import (contrastive_loss, contrastive_targets, similarity_matrix, sskd_ss_loss,
                              sskd_transform_loss)

__all__ = ["batch_hard_triplet_loss", "class_logits_from_joint", "contrastive_loss", "hierarchical_kd_loss",
           "joint_cross_entropy", "contrastive_targets", "error_rank", "kd_loss", "kl_div_rows",
           "selective_mask", "similarity_matrix", "sskd_ss_loss", "sskd_transform_loss"]
