"""What the init stages of AB and FSP share (BASELINES.md §3): before the main stage, the
student's feature extractor and the stage's adapters are trained on the method's feature loss
alone (no CE, no β), the teacher frozen, on the main stage's data."""

from __future__ import annotations

from typing import Iterator

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.methods.base import NoHparams
from sskd.methods.baseline import Baseline
from sskd.models import ModelOutput


def feature_extractor_parameters(network: nn.Module) -> list[nn.Parameter]:
    """Every parameter of ``network`` but its classifier's (the benchmark's
    ``get_feat_modules``). A network without ``get_classifier()`` gives all of them: its
    classifier gets no gradient from a feature loss, so the optimiser leaves it as it is."""
    get_classifier = getattr(network, "get_classifier", None)
    skip = {id(p) for p in get_classifier().parameters()} if callable(get_classifier) else set()
    return [p for p in network.parameters() if id(p) not in skip]


class FeatureInit(Baseline):
    """An init stage: the student's feature extractor plus :meth:`adapters` trained on
    :meth:`init_losses`. Reports the student (its logits come with the forward at no cost)."""

    Hparams = NoHparams

    @classmethod
    def check_hparams(cls, hparams) -> None:
        """No loss weights to check: the init loss is not weighted."""

    def adapters(self) -> list[nn.Module]:
        """Networks the stage trains besides the student's feature extractor."""
        return []

    def init_losses(self, student: ModelOutput, teacher: ModelOutput) -> dict[str, Tensor]:
        raise NotImplementedError

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 1, C, H, W]`` → student logits ``[B, K]``, the init losses."""
        student, teacher = self.outputs(batch)
        return student.logits, self.init_losses(student, teacher)

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        params = feature_extractor_parameters(self.student)
        params += [p for adapter in self.adapters() for p in adapter.parameters()]
        return (p for p in params if p.requires_grad)

    def leaves_parameters_unused(self) -> bool:
        return True  # the student's classifier gets no gradient
