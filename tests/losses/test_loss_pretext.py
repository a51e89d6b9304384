"""The exemplar triplet loss against hand-computed values."""

import pytest
import torch

from sskd.losses import batch_hard_triplet_loss


def test_hand_values_with_the_hardest_negative():
    similarity = torch.tensor([[0.9, 0.2, 0.5],    # target 0: hardest negative 0.5 -> relu(0.5-0.9+0.5)=0.1
                               [0.1, 0.3, -0.2],   # target 1: hardest negative 0.1 -> relu(0.1-0.3+0.5)=0.3
                               [0.0, 0.8, 0.9]])   # target 2: hardest negative 0.8 -> relu(0.8-0.9+0.5)=0.4
    targets = torch.tensor([0, 1, 2])
    torch.testing.assert_close(batch_hard_triplet_loss(similarity, targets, margin=0.5),
                               torch.tensor((0.1 + 0.3 + 0.4) / 3))


def test_rows_past_the_margin_cost_nothing_and_gradient_reaches_both_ends():
    similarity = torch.tensor([[1.0, -1.0], [0.2, 0.4]], requires_grad=True)
    loss = batch_hard_triplet_loss(similarity, torch.tensor([0, 0]), margin=0.5)
    # row 0: relu(-1 - 1 + 0.5) = 0; row 1: relu(0.4 - 0.2 + 0.5) = 0.7
    torch.testing.assert_close(loss, torch.tensor(0.35))
    loss.backward()
    torch.testing.assert_close(similarity.grad, torch.tensor([[0.0, 0.0], [-0.5, 0.5]]))


def test_a_single_image_has_no_negative():
    assert batch_hard_triplet_loss(torch.tensor([[0.3], [0.7]]), torch.tensor([0, 0])).item() == 0.0


@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_margin_shifts_every_active_row(margin):
    similarity = torch.tensor([[0.0, 0.5]])
    expected = max(0.0, 0.5 - 0.0 + margin)
    assert batch_hard_triplet_loss(similarity, torch.tensor([0]), margin).item() == pytest.approx(expected)
