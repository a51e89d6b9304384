"""Losses as pure functions (tensors in, tensor out), each citing its paper.

Logit: :func:`kd_loss`. Feature maps: :func:`hint_loss` (FitNet), :func:`at_loss`,
:func:`nst_loss`, :func:`sp_loss`, :func:`vid_loss`, :func:`ab_loss`, :func:`ft_loss`,
:func:`fsp_loss`. Relations of embeddings: :func:`rkd_loss`, :func:`pkt_loss`, :func:`cc_loss`.
Contrastive: :func:`crd_loss`, :func:`crd_nce_loss`. Self-supervised: SSKD's and HSSAKD's.
See docs/methods.md.
"""

from sskd.losses.ab import ab_layer_sum, ab_loss
from sskd.losses.at import at_loss, attention_map
from sskd.losses.cc import cc_loss
from sskd.losses.crd import crd_loss, crd_nce_loss
from sskd.losses.fitnet import hint_loss
from sskd.losses.fsp import fsp_loss, fsp_matrix
from sskd.losses.ft import ft_loss, ft_reconstruction_loss
from sskd.losses.hssakd import class_logits_from_joint, hierarchical_kd_loss, joint_cross_entropy
from sskd.losses.kd import kd_loss, kl_div_rows
from sskd.losses.nst import nst_loss
from sskd.losses.pkt import pkt_loss
from sskd.losses.pretext import batch_hard_triplet_loss
from sskd.losses.rkd import rkd_loss
from sskd.losses.selective import error_rank, selective_mask
from sskd.losses.sp import sp_loss
from sskd.losses.spatial import match_spatial
from sskd.losses.sskd import (contrastive_loss, contrastive_targets, similarity_matrix, sskd_ss_loss,
                              sskd_transform_loss)
from sskd.losses.vid import vid_log_scale_init, vid_loss, vid_variance

__all__ = ["ab_layer_sum", "ab_loss", "at_loss", "attention_map", "batch_hard_triplet_loss", "cc_loss",
           "class_logits_from_joint", "contrastive_loss", "contrastive_targets", "crd_loss", "crd_nce_loss",
           "error_rank", "fsp_loss", "fsp_matrix", "ft_loss", "ft_reconstruction_loss",
           "hierarchical_kd_loss", "hint_loss", "joint_cross_entropy", "kd_loss", "kl_div_rows",
           "match_spatial", "nst_loss", "pkt_loss", "rkd_loss", "selective_mask", "similarity_matrix",
           "sp_loss", "sskd_ss_loss", "sskd_transform_loss", "vid_log_scale_init", "vid_loss", "vid_variance"]
