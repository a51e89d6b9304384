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

        teacher = build_model(cfg.name, num_classes=context.num_classes, **teacher_args(cfg))
        load_pretrained(teacher, cfg.checkpoint, cfg.name)
        return teacher

    teacher = context.network("teacher", build)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def teacher_args(cfg) -> dict:
    """The teacher's builder arguments: ``teacher.args`` if given, else those recorded in its
    checkpoint's metadata (a run's ``model.safetensors``) for the same network, so that e.g.
    an HSSAKD MobileNetV2 (stride-1 stem) is rebuilt as it was trained; else none."""
    if cfg.args or cfg.checkpoint is None or not str(cfg.checkpoint).endswith(".safetensors"):
        return dict(cfg.args)
    from pathlib import Path

    from sskd.engine.checkpoint import read_export_metadata

    meta = read_export_metadata(Path(cfg.checkpoint))
    return dict(meta.get("model_args", {})) if meta.get("model") == cfg.name else {}


def frozen_teacher_branches(context: MethodContext, teacher: nn.Module) -> nn.Module:
    """The teacher's HSSAKD auxiliary branches, frozen: those an earlier stage of this run
    trained (``networks["teacher_branches"]``), else those of the teacher checkpoint: the
    ``branches.*`` tensors of an ``hssakd_teacher`` or ``hssakd_joint`` run's
    ``model.safetensors``, or the ``auxiliary_classifier.*`` of the authors' released
    ``*_aux`` checkpoints (renamed, :mod:`sskd.models.original_branches`)."""
    from sskd.models.branches import build_branches

    cfg = context.config.teacher

    def build() -> nn.Module:
        from sskd.engine.checkpoint import load_state_checked, read_branch_weights

        branches = build_branches(cfg.name, teacher, context.num_classes)
        state = read_branch_weights(cfg.checkpoint, branches)
        if not state:
            raise ValueError(f"teacher checkpoint {cfg.checkpoint!r} holds no auxiliary branches "
                             f"(branches.* or auxiliary_classifier.*): train them with an 'hssakd_teacher' "
                             f"stage before this one, or pass the model.safetensors of an hssakd_teacher or "
                             f"hssakd_joint run, or a released *_aux checkpoint of the HSSAKD authors")
        load_state_checked(branches, state, str(cfg.checkpoint), f"{cfg.name} auxiliary branches")
        return branches

    branches = context.network("teacher_branches", build)
    for p in branches.parameters():
        p.requires_grad_(False)
    return branches.eval()
