"""VID's loss against a hand computation, its variance parametrisation (σ² starts at 5.0) and
the spatial-mismatch rule (BASELINES.md §3; §7 has no reference value: VID's regressor
weights depend on the RNG)."""

import math

import pytest
import torch
import torch.nn.functional as F

from sskd.losses.vid import vid_log_scale_init, vid_loss, vid_variance


def test_initial_log_scale_gives_variance_5():
    alpha = torch.full((3,), vid_log_scale_init(5.0))
    assert torch.allclose(vid_variance(alpha), torch.full((3,), 5.0), rtol=1e-6)
    assert vid_log_scale_init(5.0) == pytest.approx(math.log(math.exp(5.0 - 1e-5) - 1.0))


def test_hand_computed_negative_log_likelihood():
    mu = torch.tensor([[[[1.0, 2.0]], [[0.0, -1.0]]]])  # [1, 2, 1, 2]
    t = torch.tensor([[[[0.0, 4.0]], [[1.0, 1.0]]]])
    alpha = torch.tensor([0.3, -0.7])
    expected = 0.0
    for c in range(2):
        var = math.log(1.0 + math.exp(alpha[c].item())) + 1e-5
        for w in range(2):
            d = mu[0, c, 0, w].item() - t[0, c, 0, w].item()
            expected += 0.5 * (d * d / var + math.log(var))
    assert vid_loss(mu, t, alpha).item() == pytest.approx(expected / 4, rel=1e-6)


def test_larger_teacher_map_is_pooled_and_gradient_skips_the_teacher():
    mu = torch.randn(2, 3, 2, 2, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    alpha = torch.zeros(3, requires_grad=True)
    loss = vid_loss(mu, t, alpha)
    assert loss.item() == pytest.approx(vid_loss(mu, F.avg_pool2d(t, 2), alpha).item(), rel=1e-6)
    loss.backward()
    assert mu.grad is not None and alpha.grad is not None and t.grad is None


def test_channel_mismatch_is_refused():
    with pytest.raises(ValueError, match="log-scale"):
        vid_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(4))
