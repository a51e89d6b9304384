"""torchvision:<name> and timm:<name> networks: stages found from the network, heads and branches built on them."""

import pytest
import torch
import torchvision

from sskd.models import build_model, model_entry
from sskd.models.branches import branch_count, build_aux_model
from sskd.models.external import find_stage_modules


def test_a_torchvision_name_is_the_torchvision_network_with_its_keys():
    torch.manual_seed(0)
    raw = torchvision.models.efficientnet_b0(num_classes=4).eval()
    adapted = build_model("torchvision:efficientnet_b0", num_classes=4).eval()
    assert list(adapted.state_dict()) == list(raw.state_dict())
    adapted.load_state_dict(raw.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = adapted(x)
        torch.testing.assert_close(out.logits, raw(x))
        torch.testing.assert_close(out.pooled, torch.flatten(raw.avgpool(raw.features(x)), 1))
    assert adapted.stage_nodes == ["features.1", "features.2", "features.3", "features.5", "features.8"]
    assert [tuple(f.shape[1:]) for f in out.feats] == [(16, 32, 32), (24, 16, 16), (40, 8, 8), (112, 4, 4),
                                                       (1280, 2, 2)]
    assert adapted.embed_dim == 1280


@pytest.mark.parametrize("name, stages", [
    ("regnet_y_400mf", ["stem", "trunk_output.block1", "trunk_output.block2", "trunk_output.block3",
                        "trunk_output.block4"]),
    ("mobilenet_v3_small", ["features.0", "features.1", "features.3", "features.8", "features.12"]),
    ("densenet121", ["features.relu0", "features.denseblock1", "features.denseblock2", "features.denseblock3",
                     "features.norm5"]),
])
def test_stages_are_the_last_module_at_each_spatial_size(name, stages):
    assert find_stage_modules(torchvision.models.get_model(name, num_classes=3)) == stages


def test_the_paper_families_keep_their_hand_picked_nodes():
    assert build_model("torchvision:resnet50", num_classes=3).stage_nodes == [
        "maxpool", "layer1", "layer2", "layer3", "layer4"]
    assert build_model("torchvision:shufflenet_v2_x0_5", num_classes=3).stage_nodes == [
        "maxpool", "stage2", "stage3", "stage4", "conv5"]


def test_a_timm_name_uses_timms_feature_info():
    pytest.importorskip("timm")
    model = build_model("timm:mobilenetv3_small_050", num_classes=5)
    assert model.stage_nodes == ["bn1", "blocks.0", "blocks.1", "blocks.3", "blocks.5"]
    out = model(torch.randn(2, 3, 64, 64))
    assert out.logits.shape == (2, 5) and out.pooled.shape == (2, model.embed_dim) == (2, 1024)
    assert model_entry("timm:mobilenetv3_small_050").input_size == 224


@pytest.mark.parametrize("name, message", [
    ("torchvision:resnet_99", "torchvision has no classifier 'resnet_99'"),
    ("keras:resnet50", "a library model is named torchvision:<name> or timm:<name>"),
])
def test_unknown_library_names_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        model_entry(name)


def test_a_network_without_spatial_stages_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="name its stages yourself"):
        build_model("torchvision:vit_b_16", num_classes=3)


def test_generic_branches_follow_the_design_rule_from_the_outputs_alone():
    model = build_aux_model("torchvision:mobilenet_v3_small", num_classes=5)
    branches = model.branches
    assert (branches.family, branches.tap_indices, branches.tap_channels) == ("generic", [1, 2, 3, 4],
                                                                              [16, 24, 48, 576])
    strides = [[layer[0].stride[0] for layer in b.body] for b in branches.branches]
    assert strides == [[2, 2, 2], [2, 2], [2], [1]]  # one conv per later tap; the deepest: stride 1
    widths = [[layer[0].out_channels for layer in b.body] for b in branches.branches]
    assert widths == [[24, 48, 576], [48, 576], [576], [576]]
    out = model(torch.randn(2, 3, 64, 64))
    assert [tuple(a.shape) for a in out.aux_logits] == [(2, 20)] * 4
    assert branch_count("torchvision:mobilenet_v3_small") == 4


def test_any_resnet_gets_the_papers_resnet_branches():
    assert build_aux_model("torchvision:resnet18", num_classes=3).branches.family == "imagenet_resnet"
