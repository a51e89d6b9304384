"""FT's init stage (Kim et al., NeurIPS 2018) as the CRD benchmark runs it (BASELINES.md §3):
the paraphraser learns to reconstruct the frozen teacher's last feature map (MSE), before the
main stage (``ft``) reads its encoder's factors. The benchmark trains 30 epochs at a constant
lr: 0.01 when the student is a resnet* or wrn*, else the student's base lr."""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from sskd.data.views import MultiViewBatch
from sskd.losses.ft import ft_reconstruction_loss
from sskd.methods import papers
from sskd.methods.base import Method, MethodContext, register_method
from sskd.methods.baseline import probe_outputs
from sskd.methods.ft_networks import Paraphraser
from sskd.methods.teacher import frozen_teacher

#: The benchmark's init lr for these students (its list of resnet and wrn names).
PARAPHRASER_LR = 0.01


@register_method("ft_paraphraser")
class FTParaphraser(Method):
    """Only ``networks["ft_paraphraser"]`` learns, on the teacher's ``feats[-1]`` (the
    teacher frozen, in eval mode). Reports the teacher; depends on the teacher alone, so it
    is cached across runs. Loss key ``ft_reconstruction``."""

    paper = papers.FT

    views = "standard"
    frozen = ("teacher",)
    needs_teacher = True
    teacher_side = True
    cacheable = True

    @classmethod
    def default_lr(cls, config) -> Optional[float]:
        from sskd.models import model_entry

        name = config.model.name
        if name.startswith(("resnet", "wrn")):
            return PARAPHRASER_LR
        try:
            return model_entry(name).lr
        except ValueError:
            return None  # not a known network: the preflight checks report it

    def __init__(self, context: MethodContext, hparams):
        super().__init__(context, hparams)
        self.teacher = frozen_teacher(context)
        teacher = probe_outputs({"teacher": self.teacher}, context.input_size())["teacher"]
        self.paraphraser = context.network("ft_paraphraser", lambda: Paraphraser(teacher.feats[-1].shape[1]))

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """batch.views ``[B, 1, C, H, W]`` → teacher logits ``[B, K]``, ``{"ft_reconstruction"}``."""
        teacher = self.run_frozen(self.teacher, batch.views[:, 0])
        target = teacher.feats[-1]
        return teacher.logits, {"ft_reconstruction": ft_reconstruction_loss(self.paraphraser(target), target)}

    def eval_network(self) -> nn.Module:
        return self.teacher

    def export_key(self) -> str:
        return "ft_paraphraser"
