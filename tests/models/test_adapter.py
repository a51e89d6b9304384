"""FeatureAdapter: any torchvision/timm classifier gives the zoo's ModelOutput."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from sskd.models import FeatureAdapter
from sskd.models.adapter import from_torchvision_resnet


def small_resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=5)


def test_adapter_matches_the_wrapped_network_and_keeps_its_state_dict_keys():
    raw = small_resnet().eval()
    adapted = from_torchvision_resnet(small_resnet()).eval()
    assert list(adapted.state_dict()) == list(raw.state_dict())
    adapted.load_state_dict(raw.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = adapted(x, preact=True)
        torch.testing.assert_close(out.logits, raw(x))
        torch.testing.assert_close(out.pooled, torch.flatten(raw.avgpool(out.feats[-1]), 1))
    assert [f.shape[1] for f in out.feats] == [64, 64, 128, 256, 512]
    torch.testing.assert_close(out.feats[-1], F.relu(out.preact_feats[-1]))
    assert (out.preact_feats[-1] < 0).any()


def test_adapter_follows_train_and_eval_modes():
    raw = small_resnet()
    adapted = from_torchvision_resnet(small_resnet())
    adapted.load_state_dict(raw.state_dict())
    x = torch.randn(4, 3, 32, 32)
    raw.train()
    adapted.train()
    torch.testing.assert_close(adapted(x).logits, raw(x))
    assert adapted.bn1.num_batches_tracked.item() == 1
    raw.eval()
    adapted.eval()
    with torch.no_grad():
        torch.testing.assert_close(adapted(x).logits, raw(x))
    assert adapted.bn1.num_batches_tracked.item() == 1


def test_adapter_trains():
    adapted = from_torchvision_resnet(small_resnet())
    loss = adapted(torch.randn(2, 3, 32, 32)).logits.sum()
    loss.backward()
    assert adapted.conv1.weight.grad is not None and adapted.conv1.weight.grad.abs().sum() > 0


def test_unknown_node_is_named():
    with pytest.raises(ValueError, match="layer9"):
        FeatureAdapter(small_resnet(), ["layer1", "layer9"], "flatten", "fc")


def test_timm_classifier():
    timm = pytest.importorskip("timm")
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3).eval()
    adapted = FeatureAdapter(model, ["layer1", "layer2", "layer3", "layer4"],
                             pooled_node="global_pool.flatten", logits_node="fc",
                             preact_nodes=[f"layer{i}.0.add" for i in range(1, 5)]).eval()
    adapted.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = adapted(x, preact=True)
        torch.testing.assert_close(out.logits, model(x))
    assert out.pooled.shape == (2, model.num_features)
    torch.testing.assert_close(out.feats[0], F.relu(out.preact_feats[0]))
