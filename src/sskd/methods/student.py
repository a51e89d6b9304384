"""The student every training method trains: the run's ``config.model``."""

from __future__ import annotations

from torch import nn

from sskd.methods.base import MethodContext
from sskd.models import build_model


def student_network(context: MethodContext, key: str = "student") -> nn.Module:
    """The run's network ``key`` (default ``student``), built from ``config.model`` on first
    use and then shared by every stage of the run (so an init stage's weights reach the main
    stage)."""
    model = context.config.model
    return context.network(
        key, lambda: build_model(model.name, num_classes=context.num_classes, **model.args))
