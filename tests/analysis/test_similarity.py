"""Teacher–student similarity (SSKD Table 6) of saved networks on the embedded digits test split."""

import argparse
import functools
import json

import pytest
import torch
from safetensors.torch import load_file

from sskd.analysis.cka import linear_cka
from sskd.analysis.prediction_kl import prediction_kl
from sskd.analysis.similarity import teacher_student_similarity
from sskd.analysis.similarity_command import add_parser
from sskd.data import load_dataset
from sskd.engine.checkpoint import export_model
from sskd.models import build_model

SCHEMA = {"teacher", "student", "teacher_model", "student_model", "dataset", "split", "images",
          "representation", "kl_direction", "kl", "cka", "cka_estimator"}


def save_resnet8(path, seed, num_classes=10):
    torch.manual_seed(seed)
    export_model(build_model("resnet8", num_classes=num_classes), path,
                 {"model": "resnet8", "dataset": "digits", "num_classes": num_classes})
    return path


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("similarity")
    return save_resnet8(folder / "teacher.safetensors", 1), save_resnet8(folder / "student.safetensors", 2)


@functools.lru_cache(maxsize=2)
def all_outputs(path):
    """Logits [450, 10] and pooled [450, D] of the whole digits test split in one pass."""
    network = build_model("resnet8", num_classes=10)
    network.load_state_dict(load_file(str(path)))
    data = load_dataset("digits", split="test")
    mean = torch.tensor(data.info.mean).view(1, 3, 1, 1)
    std = torch.tensor(data.info.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        out = network.eval()(((data.images.float() / 255) - mean) / std)
    return out.logits, out.pooled


def run_command(argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["similarity", *argv])
    return args.func(args)


def test_a_network_with_itself_has_cka_one_and_kl_zero(networks):
    teacher, _ = networks
    result = teacher_student_similarity(teacher, teacher, temperatures=(1.0, 4.0), batch_size=128, device="cpu")
    assert set(result) == SCHEMA
    assert result["images"] == 450 and result["dataset"] == "digits" and result["split"] == "test"
    assert result["cka"] == pytest.approx(1.0, abs=1e-6)
    assert [kl["temperature"] for kl in result["kl"]] == [1.0, 4.0]
    assert all(kl["value"] == pytest.approx(0.0, abs=1e-9) and kl["t_squared"] is False for kl in result["kl"])


@pytest.mark.parametrize("representation", ["pooled", "logits"])
def test_streamed_values_equal_a_direct_computation(networks, representation):
    teacher, student = networks
    result = teacher_student_similarity(teacher, student, temperatures=(1.0, 4.0), representation=representation,
                                        batch_size=64, device="cpu")
    logits_t, pooled_t = all_outputs(teacher)
    logits_s, pooled_s = all_outputs(student)
    x, y = (pooled_t, pooled_s) if representation == "pooled" else (logits_t, logits_s)
    assert result["cka"] == pytest.approx(linear_cka(x, y), rel=1e-5)
    assert result["cka"] < 0.999
    for kl in result["kl"]:
        assert kl["value"] == pytest.approx(prediction_kl(logits_t, logits_s, kl["temperature"]), rel=1e-5)
    assert result["kl"][0]["value"] > 1e-4
    assert result["representation"] == representation and result["kl_direction"] == "teacher||student"
    assert (result["teacher"], result["student"]) == (str(teacher), str(student))


def test_command_prints_the_table_and_writes_the_json(networks, tmp_path, capsys):
    teacher, student = networks
    out = tmp_path / "deep" / "folder" / "similarity.json"
    assert run_command([str(teacher), str(student), "--temperatures", "2", "--device", "cpu",
                        "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert set(written) == SCHEMA
    assert [kl["temperature"] for kl in written["kl"]] == [2.0]
    assert f"KL(teacher||student) T=2: {written['kl'][0]['value']:.6f}" in printed
    assert f"linear CKA (pooled): {written['cka']:.6f}" in printed
    assert not [p for p in out.parent.iterdir() if p != out]


def test_an_unknown_checkpoint_is_named(networks, tmp_path):
    missing = tmp_path / "nowhere.safetensors"
    with pytest.raises(ValueError, match=f"{missing}: no such file"):
        run_command([str(missing), str(networks[1]), "--device", "cpu"])


def test_different_numbers_of_classes_are_refused(networks, tmp_path):
    five = save_resnet8(tmp_path / "five.safetensors", 3, num_classes=5)
    with pytest.raises(ValueError, match=f"teacher {networks[0]} has 10 classes but student {five} has 5"):
        teacher_student_similarity(networks[0], five, device="cpu")


@pytest.mark.parametrize("options, message", [
    ({"representation": "conv"}, "representation must be one of pooled, logits; got 'conv'"),
    ({"temperatures": ()}, "at least one KL temperature"),
    ({"temperatures": (1.0, -2.0)}, "positive number; got -2.0"),
])
def test_bad_options_are_refused(networks, options, message):
    with pytest.raises(ValueError, match=message):
        teacher_student_similarity(networks[0], networks[1], device="cpu", **options)
