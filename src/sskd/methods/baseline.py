"""What the baselines of the SSKD and HSSAKD tables share (BASELINES.md §1.2): a student trained
on ``γ·CE + α·KD(T) + β·L_method`` on one standard view, reading its own and the frozen
teacher's :class:`~sskd.models.ModelOutput` (``feats``, ``preact_feats``, ``pooled``).

A baseline subclasses :class:`Baseline`, declares its hyper-parameters as a dataclass derived
from :class:`BaselineHparams` (its β named ``<term>_weight``, the CRD benchmark's standalone
value as default) and implements :meth:`Baseline.method_losses`. A weight of 0 removes its
term. The "+KD" rows of the SSKD tables set ``ce_weight: 1, kd_weight: 1`` (the CRD README's
CRD+KD setting, BASELINES.md §1.2), which the ``<method>_kd`` presets do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses import kd_loss
from sskd.methods.base import Method, MethodContext
from sskd.methods.student import student_network
from sskd.methods.teacher import frozen_teacher
from sskd.models import ModelOutput


@dataclass
class BaselineHparams:
    """γ (``ce_weight``), α (``kd_weight``) and the KD temperature ``T`` of BASELINES.md §1.2;
    the standalone setting (γ = 1, α = 0). Subclasses add their β as ``<term>_weight``."""

    ce_weight: float = 1.0
    kd_weight: float = 0.0
    T: float = 4.0


def loss_weights(hparams) -> dict[str, float]:
    """``{field name: value}`` of every ``*_weight`` hyper-parameter."""
    return {f.name: getattr(hparams, f.name) for f in dataclasses.fields(hparams) if f.name.endswith("_weight")}


@torch.no_grad()
def probe_outputs(networks: dict[str, nn.Module], size: int, preact: bool = False) -> dict[str, ModelOutput]:
    """Each network's :class:`ModelOutput` for two ``size``×``size`` zero images (eval mode,
    no gradient, on the network's device; training mode is restored): the feature shapes a
    method sizes its adapters from, for any zoo, torchvision or timm network."""
    outputs = {}
    for name, network in networks.items():
        was_training = network.training
        device = next(network.parameters()).device
        network.eval()
        try:
            outputs[name] = network(torch.zeros(2, 3, size, size, device=device), preact=preact)
        finally:
            network.train(was_training)
    return outputs


def meta_outputs(config, preact: bool = False) -> tuple[ModelOutput, ModelOutput]:
    """Student and teacher :class:`ModelOutput` of a run config, computed on the meta device
    (shapes only: no weights are allocated or read, no data is loaded) at the run's input size."""
    from sskd.methods.teacher import teacher_args
    from sskd.models import build_model, model_entry

    size = config.data.image_size or model_entry(config.model.name).input_size
    with torch.device("meta"):
        student = build_model(config.model.name, num_classes=10, **config.model.args)
        teacher = build_model(config.teacher.name, num_classes=10, **teacher_args(config.teacher))
        probe = {"student": student, "teacher": teacher}
        out = probe_outputs(probe, size, preact)
    return out["student"], out["teacher"]


class Baseline(Method):
    """Student + frozen teacher, one standard view, ``γ·CE + α·KD + method terms``.

    Subclasses set ``preact`` if they read ``preact_feats`` (AB) and implement
    :meth:`method_losses`; adapters they train are networks of the run
    (``context.network(name, build)``), so that checkpoints hold them.
    """

    views = "standard"
    Hparams: ClassVar[type] = BaselineHparams
    frozen = ("teacher",)
    needs_teacher = True
    preact: ClassVar[bool] = False

    @classmethod
    def check_hparams(cls, hparams) -> None:
        weights = loss_weights(hparams)
        negative = {k: v for k, v in weights.items() if v < 0}
        if negative:
            raise ValueError(f"{cls.method_name}: loss weights must be >= 0, got {negative}")
        if not any(weights.values()):
            raise ValueError(f"{cls.method_name}: every loss weight is 0 ({', '.join(weights)}); "
                             f"nothing would be trained")
        if not hparams.T > 0:
            raise ValueError(f"{cls.method_name}: T must be > 0, got {hparams.T}")

    @classmethod
    def check_run(cls, config, index: int) -> None:
        if config.teacher.name is None or not cls.reads_features():
            return
        student, teacher = meta_outputs(config, cls.preact)
        reason = cls.pair_problem(student, teacher)
        if reason:
            raise ValueError(f"{cls.method_name} cannot distil {config.teacher.name} into "
                             f"{config.model.name}: {reason}")

    @classmethod
    def reads_features(cls) -> bool:
        """Whether the method reads more than the logits (so the pair's shapes matter)."""
        return cls.pair_problem.__func__ is not Baseline.pair_problem.__func__

    @classmethod
    def pair_problem(cls, student: ModelOutput, teacher: ModelOutput) -> str:
        """Why this method cannot serve a pair with these outputs (shapes only, e.g. meta
        tensors), as the end of one sentence; ``""`` if it can."""
        return ""

    def __init__(self, context: MethodContext, hparams: BaselineHparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        self.student = student_network(context)

    def probe(self, context: MethodContext) -> tuple[ModelOutput, ModelOutput]:
        """Student and teacher outputs for a dry batch at the run's input size."""
        out = probe_outputs({"student": self.student, "teacher": self.teacher}, context.input_size(), self.preact)
        return out["student"], out["teacher"]

    def method_losses(self, student: ModelOutput, teacher: ModelOutput,
                      batch: MultiViewBatch) -> dict[str, Tensor]:
        """The method's own weighted terms ``{name: β·L}`` (skip a term whose weight is 0).
        ``teacher`` was computed without gradient."""
        raise NotImplementedError

    def outputs(self, batch: MultiViewBatch) -> tuple[ModelOutput, ModelOutput]:
        """Student and teacher (no gradient) outputs for the normal views ``[B, C, H, W]`` of
        batch.views ``[B, 1, C, H, W]``, with ``preact_feats`` if the method reads them."""
        x = batch.views[:, 0]
        student = self.student(x, preact=self.preact)
        teacher = self.run_frozen(lambda rows: self.teacher(rows, preact=self.preact), x)
        return student, teacher

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 1, C, H, W]`` → student logits ``[B, K]``, ``{"ce", "kd", ...}``."""
        student, teacher = self.outputs(batch)
        hp = self.hparams
        losses = {}
        if hp.ce_weight:
            losses["ce"] = hp.ce_weight * self.class_ce(student.logits, batch.labels)
        if hp.kd_weight:
            losses["kd"] = hp.kd_weight * kd_loss(student.logits, teacher.logits, hp.T)
        losses.update(self.method_losses(student, teacher, batch))
        return student.logits, losses

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
