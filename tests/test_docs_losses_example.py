"""The "losses in your own loop" example of docs/methods.md runs as written."""

import re
from pathlib import Path

import torch

from sskd.methods.crd import Embed
from sskd.models import build_model

DOC = Path(__file__).resolve().parents[1] / "docs" / "methods.md"


def test_the_loss_example_runs_and_gives_a_finite_differentiable_loss():
    text = DOC.read_text()
    section = text[text.index("### The losses in your own loop"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    torch.manual_seed(0)
    student, teacher = build_model("resnet8", num_classes=10), build_model("resnet20", num_classes=10).eval()
    scope = {"student": student, "teacher": teacher, "x": torch.randn(8, 3, 32, 32),
             "y": torch.randint(0, 10, (8,)), "train_labels": torch.arange(200) % 10,
             "idx": torch.arange(8) * 3, "embed_s": Embed(student.embed_dim), "embed_t": Embed(teacher.embed_dim)}
    exec(code, scope)
    loss = scope["loss"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert student.get_classifier().weight.grad is not None
