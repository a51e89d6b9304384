"""Checkpoints: atomic store, safe loading, import of the original codebases' files."""

import os
import pickle

import pytest
import torch
from torch import nn

from sskd.engine.checkpoint import (CheckpointError, CheckpointStore, load_pretrained, read_weights)
from sskd.models import build_model


def small_net():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_store_saves_loads_and_keeps_the_newest(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    net = small_net()
    for epoch in range(1, 4):
        with torch.no_grad():
            net[0].weight.fill_(epoch)
        store.save(f"s00-e{epoch:04d}", net, {"epoch": epoch, "optimizer": {"lr": torch.tensor(0.1)}})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir()) == ["s00-e0002", "s00-e0003"]
    latest = store.latest()
    assert latest.name == "s00-e0003"
    fresh = small_net()
    state = CheckpointStore.load(latest, fresh, torch.device("cpu"))
    assert state["epoch"] == 3 and torch.all(fresh[0].weight == 3)


def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path, keep=2)
    net = small_net()
    store.save("s00-e0001", net, {"epoch": 1})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save("s00-e0002", net, {"epoch": 2})
    monkeypatch.undo()
    latest = store.latest()
    assert latest.name == "s00-e0001"
    assert CheckpointStore.load(latest, small_net(), torch.device("cpu"))["epoch"] == 1


def test_state_file_is_loaded_without_unpickling_objects(tmp_path):
    store = CheckpointStore(tmp_path)
    path = store.save("s00-e0001", small_net(), {"epoch": 1})

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(path / "state.pt", "wb") as f:
        pickle.dump({"epoch": Evil()}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointStore.load(path, small_net(), torch.device("cpu"))


@pytest.mark.parametrize("wrap", ["plain", "model", "state_dict", "net", "module", "backbone"])
def test_original_checkpoints_load_into_zoo_models(tmp_path, wrap):
    source = build_model("resnet8", num_classes=10)
    state = source.state_dict()
    if wrap == "module":
        obj = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 240}
    elif wrap == "backbone":  # HSSAKD: backbone.* plus auxiliary branches
        obj = {"net": {**{f"backbone.{k}": v for k, v in state.items()},
                       "auxiliary_classifier.0.fc.weight": torch.zeros(40, 64)}, "acc": 70.0}
    elif wrap == "plain":
        obj = state
    else:
        obj = {wrap: state, "acc": 73.4}
    path = tmp_path / "best.pth"
    torch.save(obj, path)
    target = build_model("resnet8", num_classes=10)
    load_pretrained(target, path)
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v)


def test_mismatch_lists_missing_unexpected_and_shapes(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": build_model("resnet8", num_classes=100).state_dict()}, path)
    with pytest.raises(CheckpointError) as err:
        load_pretrained(build_model("resnet8", num_classes=10), path)
    assert "fc.weight: checkpoint (100, 64) vs model (10, 64)" in str(err.value)
    with pytest.raises(CheckpointError) as err:
        load_pretrained(build_model("resnet14", num_classes=100), path)
    message = str(err.value)
    assert "missing keys (36)" in message and "layer1.1.bn1.bias" in message and str(path) in message


def test_unreadable_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        read_weights(tmp_path / "nothing.pth")
    evil = tmp_path / "evil.pth"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil.write_bytes(pickle.dumps({"model": Evil()}, protocol=2))
    with pytest.raises(CheckpointError, match="weights_only"):
        read_weights(evil)
    odd = tmp_path / "odd.pth"
    torch.save({"epoch": 3}, odd)
    with pytest.raises(CheckpointError, match="state dict"):
        read_weights(odd)
