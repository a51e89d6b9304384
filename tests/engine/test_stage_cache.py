"""Cacheable stages (SSKD's teacher head): trained once per teacher checkpoint and settings,
reused by later runs, and identical to what the later run would have trained."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from sskd.config import config_from_dict
from sskd.engine import train
from sskd.engine.checkpoint import export_model
from sskd.engine.stage_cache import StageCache, stage_cache_key
from sskd.models import build_model


def head_config(out_dir, teacher, name, seed, cache=True, **data):
    return config_from_dict({
        "seed": seed, "device": "cpu", "model": {"name": "resnet8"},
        "teacher": {"name": "resnet8", "checkpoint": str(teacher)},
        "data": {"name": "digits", "batch_size": 128, **data},
        "output": {"dir": str(out_dir), "name": name, "progress": "none", "tensorboard": False,
                   "cache": cache},
        "stages": [{"name": "head", "method": "sskd_teacher_head", "epochs": 1, "seed": 0}],
    })


def test_a_cached_head_is_reused_and_equals_a_fresh_one(tmp_path, teacher_file):
    first = train(head_config(tmp_path, teacher_file, "a", seed=0))
    cached = list((tmp_path / "cache").glob("sskd_teacher_head-*.safetensors"))
    assert len(cached) == 1
    assert 0 <= first["stages"]["head"]["last_epoch"]["test/teacher_ss_top1"] <= 100

    second = train(head_config(tmp_path, teacher_file, "b", seed=1))
    assert second["stages"]["head"]["cached_from"] == str(cached[0])
    assert second["stages"]["head"]["scores"] == first["stages"]["head"]["last_epoch"]
    metrics = tmp_path / "b" / "metrics.jsonl"
    assert not metrics.exists() or not metrics.read_text().strip()   # no epoch was trained

    fresh = train(head_config(tmp_path, teacher_file, "c", seed=1, cache=False))
    assert "cached_from" not in fresh["stages"]["head"]
    a, b, c = (load_file(tmp_path / n / "model.safetensors") for n in "abc")
    for key in a:
        assert torch.equal(a[key], b[key]) and torch.equal(a[key], c[key]), key


DATA = {"root": None, "train_images": 1347, "num_classes": 10, "class_names": list("0123456789")}
HPARAMS = {"task": "contrastive", "temperature": 1.0}


def key_of(config, world_size=1, hparams=HPARAMS, data=DATA):
    return stage_cache_key(config, 0, world_size, hparams, data)


def test_what_changes_the_result_changes_the_key(tmp_path, teacher_file):
    config = head_config(tmp_path, teacher_file, "a", seed=0)
    key = key_of(config)
    assert key_of(head_config(tmp_path, teacher_file, "b", seed=5)) == key   # the stage has its own seed

    other = tmp_path / "other.safetensors"
    other.write_bytes(teacher_file.read_bytes())
    assert key_of(head_config(tmp_path, other, "a", seed=0)) == key   # same bytes, another file
    torch.manual_seed(1)
    export_model(build_model("resnet8", num_classes=10), other, {"model": "resnet8"})
    assert key_of(head_config(tmp_path, other, "a", seed=0))["teacher"] != key["teacher"]

    # With a training subset, the run's seed picks the images, so it joins the key.
    few = [key_of(head_config(tmp_path, teacher_file, "a", seed=s, train_fraction=0.5)) for s in (0, 1)]
    assert few[0] != few[1]
    assert key_of(config, world_size=2) != key
    assert key_of(config, hparams={**HPARAMS, "temperature": 0.5}) != key
    assert key_of(config, data={**DATA, "root": "/elsewhere"}) != key
    assert key_of(config, data={**DATA, "train_images": 1000}) != key


def test_a_run_killed_before_its_first_checkpoint_resumes_from_its_config(tmp_path, teacher_file):
    """After a cache hit no checkpoint exists until the next stage's first epoch ends."""
    config = head_config(tmp_path, teacher_file, "a", seed=0)
    config.stages.append(type(config.stages[0])(name="student", method="sskd", epochs=1))
    config.data.train_fraction = 0.1
    config.validate()
    train(config)
    run = tmp_path / "a"
    import shutil

    shutil.rmtree(run / "checkpoints")   # as if killed during the student's first epoch
    (run / "model.safetensors").unlink()
    resumed = train(config, run_dir=run, resume=True)
    assert "cached_from" in resumed["stages"]["head"] and resumed["stages"]["student"]["epochs"] == 1
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1   # the student's epoch, once
    assert (run / "model.safetensors").is_file()
    # Resumed after the student's checkpoint: the summary still knows the head was reused.
    (run / "checkpoints" / "latest").write_text("s01-e0001")
    (run / "summary.json").unlink()   # killed after its last checkpoint, before its summary
    again = train(config, run_dir=run, resume=True)
    assert again["stages"]["head"]["cached_from"] == resumed["stages"]["head"]["cached_from"]


def test_a_file_whose_stored_key_differs_is_not_used(tmp_path):
    cache = StageCache(tmp_path)
    key = {"format": 1, "x": 1}
    path = cache.save("m", key, nn.Linear(2, 2), {})
    assert cache.lookup("m", key) == path
    # The file of another key put under this key's name (e.g. copied by hand) is ignored.
    cache.save("m", {"format": 1, "x": 2}, nn.Linear(2, 2), {}).replace(path)
    assert cache.lookup("m", key) is None


def test_loading_a_mismatched_network_names_the_file(tmp_path):
    cache = StageCache(tmp_path)
    path = cache.save("m", {"k": 1}, nn.Linear(2, 2), {})
    with pytest.raises(ValueError, match=path.name):
        cache.load(path, nn.Linear(3, 3))


def test_a_teacher_side_stage_of_a_noisy_run_trains_on_the_clean_labels(tmp_path, teacher_file):
    """The teacher is trained on clean data (SSKD Fig. 4b): label noise reaches the student only."""
    import json

    clean = head_config(tmp_path, teacher_file, "clean", seed=0, cache=False)
    noisy = head_config(tmp_path, teacher_file, "noisy", seed=3, cache=False, label_noise=0.5)
    assert key_of(noisy) == key_of(clean)
    train(clean)
    train(noisy)
    records = {n: [json.loads(line) for line in (tmp_path / n / "metrics.jsonl").read_text().splitlines()]
               for n in ("clean", "noisy")}
    # the teacher's classifier is scored against the labels it trains with: the clean ones
    assert records["noisy"][0]["train/top1"] == records["clean"][0]["train/top1"]
    a, b = (load_file(tmp_path / n / "model.safetensors") for n in ("clean", "noisy"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_damaged_cache_entry_is_trained_again_and_replaced(tmp_path, teacher_file):
    from sskd.engine.checkpoint import read_export_metadata

    train(head_config(tmp_path, teacher_file, "a", seed=0))
    (entry,) = (tmp_path / "cache").glob("sskd_teacher_head-*.safetensors")
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(UserWarning, match="stage cache: .*training the stage again"):
        second = train(head_config(tmp_path, teacher_file, "b", seed=0))
    assert "cached_from" not in second["stages"]["head"]
    assert "cache_key" in read_export_metadata(entry)
