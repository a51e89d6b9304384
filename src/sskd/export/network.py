"""The trained student of a run, rebuilt as a plain network that returns logits only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor, nn

from sskd.engine.checkpoint import load_pretrained
from sskd.models import build_model


class LogitsOnly(nn.Module):
    """Wraps a zoo network so that ``forward`` returns ``ModelOutput.logits`` alone (in the
    network's train/eval mode).

    ``forward(x)``: ``x`` float ``[N, 3, H, W]`` (normalised images) -> logits ``[N, K]``.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.train(network.training)

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x).logits


def load_student(weights: Path, meta: dict[str, Any]) -> nn.Module:
    """``build_model(meta["model"], num_classes, **model_args)`` with ``weights`` loaded, in
    eval mode, fp32, on the CPU. An HSSAKD file's ``backbone.*`` keys fill the network and
    its ``branches.*`` are left out (:func:`sskd.engine.checkpoint.load_pretrained`)."""
    network = build_model(meta["model"], num_classes=meta["num_classes"], **meta["model_args"])
    load_pretrained(network, weights, meta["model"])
    return network.float().eval()
