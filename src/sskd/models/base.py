"""The base class of the zoo networks: one generic forward over stages."""

from __future__ import annotations

from torch import Tensor, nn

from sskd.models.output import ModelOutput
from sskd.models.stages import PoolHead, Stage


class ZooNet(nn.Module):
    """A classifier described as stem + stages → pooling head → linear classifier.

    Subclasses build their modules (with the original repositories' names) and then call
    :meth:`_set_structure`. ``forward(x, preact=False)`` returns a :class:`ModelOutput`.

    Attributes:
        num_classes: ``K``, the classifier's output size.
        embed_dim: ``D``, the size of ``ModelOutput.pooled``.
        feat_channels: channel count of each entry of ``ModelOutput.feats``.
    """

    num_classes: int
    embed_dim: int

    def _set_structure(self, stages: list[Stage], head: PoolHead, classifier: nn.Linear) -> None:
        # Plain attributes on purpose: stages reference modules already registered under
        # their original names, so they must not be registered a second time.
        object.__setattr__(self, "_stages", list(stages))
        object.__setattr__(self, "_head", head)
        object.__setattr__(self, "_classifier", classifier)
        self.embed_dim = classifier.in_features
        self.num_classes = classifier.out_features

    @property
    def stages(self) -> list[Stage]:
        """``stages[i]`` maps ``feats[i-1]`` to ``feats[i]`` (``stages[0]`` is the stem)."""
        return list(self._stages)

    @property
    def head(self) -> PoolHead:
        """Maps the last feature map to the pooled embedding ``[N, D]``."""
        return self._head

    def get_classifier(self) -> nn.Linear:
        """The final linear layer ``D → K``."""
        return self._classifier

    @property
    def feat_channels(self) -> list[int]:
        return [stage.out_channels for stage in self._stages]

    def forward(self, x: Tensor, preact: bool = False) -> ModelOutput:
        """Args: x ``[N, 3, H, W]``; preact: also return pre-activation maps."""
        feats: list[Tensor] = []
        preacts: list[Tensor] = []
        for stage in self._stages:
            if preact:  # only when asked: WRN pays a batch norm per stage for it
                x, pre = stage.forward_with_preact(x)
                preacts.append(pre)
            else:
                x = stage(x)
            feats.append(x)
        if preact:  # as in RepDistiller, the stem is reported after its activation in both lists
            preacts[0] = feats[0]
        pooled = self._head(x)
        return ModelOutput(self._classifier(pooled), feats, preacts if preact else None, pooled)
