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


def frozen_teacher_branches(context: MethodContext, teacher: nn.Module) -> nn.Module:
    """The teacher's HSSAKD auxiliary branches, frozen: those an earlier stage of this run
    trained (``networks["teacher_branches"]``), else the ``branches.*`` tensors of the
    teacher checkpoint (the ``model.safetensors`` of an ``hssakd_teacher`` or
    ``hssakd_joint`` run)."""
    from sskd.models.branches import build_branches

    cfg = context.config.teacher

    def build() -> nn.Module:
        from sskd.engine.checkpoint import load_state_checked, read_state_dict

        branches = build_branches(cfg.name, teacher, context.num_classes)
        state = {k[len("branches."):]: v for k, v in read_state_dict(cfg.checkpoint).items()
                 if k.startswith("branches.")}
        if not state:
            raise ValueError(f"teacher checkpoint {cfg.checkpoint!r} holds no auxiliary branches "
                             f"(branches.*): train them with an 'hssakd_teacher' stage before this one, "
                             f"or pass the model.safetensors of an hssakd_teacher or hssakd_joint run")
        load_state_checked(branches, state, str(cfg.checkpoint))
        return branches

    branches = context.network("teacher_branches", build)
    for p in branches.parameters():
        p.requires_grad_(False)
    return branches.eval()
