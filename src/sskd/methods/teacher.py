"""The frozen teacher every distillation method reads from."""

from __future__ import annotations

from torch import nn

from sskd.methods.base import MethodContext
from sskd.models import build_model


def frozen_teacher(context: MethodContext) -> nn.Module:
    """The run's ``teacher`` network: built from ``config.teacher`` and its checkpoint on
    first use, then shared by every stage; no gradients, always in eval mode."""
    cfg = context.config.teacher
    if cfg.name is None:
        raise ValueError(f"method {context.stage.method!r} needs a teacher: set teacher.name and "
                         f"teacher.checkpoint (--teacher, --teacher-ckpt)")

    def build() -> nn.Module:
        from sskd.engine.checkpoint import load_pretrained  # the engine imports the methods

        teacher = build_model(cfg.name, num_classes=context.num_classes, **cfg.args)
        load_pretrained(teacher, cfg.checkpoint)
        return teacher

    teacher = context.network("teacher", build)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()
