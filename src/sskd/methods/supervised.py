"""Plain supervised training with cross-entropy: how every teacher and every baseline
student of the papers is trained (SSKD.md §2.1)."""

from __future__ import annotations

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.methods.base import Method, MethodContext, NoHparams, register_method
from sskd.methods.student import student_network


@register_method("supervised")
class Supervised(Method):
    """Cross-entropy (with the stage's label smoothing) on one standard view (crop + flip)
    per image.

    Trains the run's ``student`` network (``config.model``).
    """

    views = "standard"
    Hparams = NoHparams

    def __init__(self, context: MethodContext, hparams: NoHparams):
        super().__init__(context, hparams)
        self.student = student_network(context)

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 1, C, H, W]`` → logits ``[B, K]``, ``{"ce": loss}``."""
        logits = self.student(batch.views[:, 0]).logits
        return logits, {"ce": self.class_ce(logits, batch.labels)}

    def eval_network(self) -> nn.Module:
        return self.student

    def export_key(self) -> str:
        return "student"
