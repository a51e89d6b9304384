"""Frozen networks run under inference mode, in row chunks, and hand back ordinary tensors."""

import pytest
import torch
from sskd.methods.frozen import CPU_FROZEN_ROWS, frozen_forward, resolve_frozen_rows
from sskd.models import ModelOutput, build_model
from distill_helpers import built_method, random_views


@pytest.fixture(scope="module")
def wrn():
    torch.manual_seed(0)
    return build_model("wrn_16_2", num_classes=10).eval()


def test_rows_per_pass_default_by_device():
    assert resolve_frozen_rows(None, torch.device("cpu")) == CPU_FROZEN_ROWS
    assert resolve_frozen_rows(None, torch.device("cuda", 0)) == 0
    assert resolve_frozen_rows(16, torch.device("cuda", 0)) == 16
    assert resolve_frozen_rows(0, torch.device("cpu")) == 0


@pytest.mark.parametrize("rows", [0, 3, 5, 64])
def test_chunked_pass_equals_one_pass(wrn, rows):
    x = torch.randn(10, 3, 32, 32)
    with torch.no_grad():
        whole = wrn(x, preact=True)
    out = frozen_forward(lambda r: wrn(r, preact=True), x, rows)
    assert isinstance(out, ModelOutput)
    torch.testing.assert_close(out.logits, whole.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.pooled, whole.pooled, rtol=1e-5, atol=1e-5)
    for got, want in zip(out.feats + out.preact_feats, whole.feats + whole.preact_feats):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_outputs_are_ordinary_tensors_a_loss_may_save(wrn):
    x = torch.randn(6, 3, 32, 32)
    out = frozen_forward(wrn, x, rows=4)
    assert out.preact_feats is None
    assert not out.logits.is_inference() and not out.feats[-1].is_inference()
    assert not out.logits.requires_grad
    weight = torch.ones(10, requires_grad=True)
    (out.logits * weight).sum().backward()  # mul saves the teacher's logits for backward
    torch.testing.assert_close(weight.grad, out.logits.sum(0))


def test_tuples_and_lists_keep_their_structure():
    x = torch.arange(12.0).reshape(6, 2)
    out = frozen_forward(lambda r: (r * 2, [r + 1, r - 1]), x, rows=4)
    assert isinstance(out, tuple) and isinstance(out[1], list)
    torch.testing.assert_close(out[0], x * 2)
    torch.testing.assert_close(out[1][1], x - 1)


def test_an_unjoinable_output_is_refused():
    with pytest.raises(TypeError, match="cannot join outputs of type dict"):
        frozen_forward(lambda r: {"a": r}, torch.zeros(2, 1))


@pytest.mark.parametrize("method, args", [("kd", {}), ("sskd_teacher_head", {})])
def test_a_method_loss_is_the_same_whatever_the_chunking(teacher_file, method, args):
    built, _ = built_method(teacher_file, method, args)
    batch = random_views(built.views, b=6)
    built.frozen_rows = 0
    torch.manual_seed(0)
    _, whole = built.forward_train(batch)
    built.frozen_rows = 5
    torch.manual_seed(0)
    _, chunked = built.forward_train(batch)
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=1e-5, atol=1e-6)


def test_stage_output_skips_the_preactivation_unless_asked(wrn, monkeypatch):
    from sskd.models.stages import NormalizedPreactStage

    calls = []
    original = NormalizedPreactStage.forward_with_preact
    monkeypatch.setattr(NormalizedPreactStage, "forward_with_preact",
                        lambda self, x: calls.append(1) or original(self, x))
    x = torch.randn(2, 3, 32, 32)
    plain = wrn(x)
    assert calls == [] and plain.preact_feats is None
    with_preact = wrn(x, preact=True)
    assert len(calls) == 3
    for a, b in zip(plain.feats, with_preact.feats):
        torch.testing.assert_close(a, b)


def test_shufflenet_v2_unit_output_is_the_same_with_or_without_its_preactivation():
    from sskd.models.shufflenet import ShuffleV2Unit

    torch.manual_seed(0)
    net = build_model("ShuffleV2", num_classes=10).eval()
    unit = next(m for m in net.modules() if isinstance(m, ShuffleV2Unit))
    x = torch.randn(2, unit.conv1.in_channels * 2, 8, 8)
    out, pre = unit.forward_with_preact(x)
    torch.testing.assert_close(unit(x), out)
    assert pre.shape == out.shape
