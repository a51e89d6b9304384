"""The `sskd` command's listing subcommands."""

import subprocess
import sys

from sskd.cli import main


def test_models_lists_the_zoo(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ["resnet8x4", "wrn_40_2", "vgg13", "MobileNetV2", "ShuffleV2", "ResNet50", "resnet18"]:
        assert f"\n{name} " in "\n" + out


def test_datasets_lists_the_readers(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "cifar100" in out and "100 classes" in out and "digits" in out


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "sskd.cli", "models"], capture_output=True, text=True)
    assert done.returncode == 0 and "resnet32x4" in done.stdout


def test_import_lists_the_zoo():
    done = subprocess.run([sys.executable, "-c", "import sskd; print(sskd.models.list_models())"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "'wrn_16_2'" in done.stdout


def test_distill_sets_up_the_method_stages(tmp_path, capsys):
    ckpt = tmp_path / "t.pth"
    ckpt.write_bytes(b"")
    assert main(["distill", "--teacher", "resnet8", "--teacher-ckpt", str(ckpt), "--student", "resnet8",
                 "--epochs", "4", "--print-config"]) == 0
    import yaml

    config = yaml.safe_load(capsys.readouterr().out)
    assert [(s["method"], s["epochs"]) for s in config["stages"]] == [("sskd_teacher_head", 60), ("sskd", 4)]
    assert config["teacher"] == {"name": "resnet8", "checkpoint": str(ckpt), "args": {}}
    assert main(["distill", "--method", "kd", "--teacher", "resnet8", "--teacher-ckpt", str(ckpt),
                 "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert [s["method"] for s in config["stages"]] == ["kd"]


def test_distill_pretext_and_cache_flags(tmp_path, capsys):
    import yaml

    ckpt = tmp_path / "t.pth"
    ckpt.write_bytes(b"")
    base = ["distill", "--teacher", "resnet8", "--teacher-ckpt", str(ckpt), "--student", "resnet8"]
    assert main(base + ["--pretext", "rotation", "--no-cache", "--print-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert [s["args"].get("task") for s in config["stages"]] == ["rotation", "rotation"]
    assert config["stages"][0]["seed"] == 0 and config["stages"][1]["seed"] is None
    assert config["output"]["cache"] is False
    assert main(base + ["--method", "kd", "--pretext", "rotation", "--print-config"]) == 2
    assert "--pretext" in capsys.readouterr().err


def test_distill_refuses_an_unknown_pretext_before_writing(tmp_path, capsys):
    ckpt = tmp_path / "t.safetensors"
    from sskd.engine.checkpoint import export_model
    from sskd.models import build_model

    export_model(build_model("resnet8", num_classes=10), ckpt, {"model": "resnet8"})
    out = tmp_path / "runs"
    assert main(["distill", "--teacher", "resnet8", "--teacher-ckpt", str(ckpt), "--student", "resnet8",
                 "--pretext", "rotate", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "stages[0].args" in err and "unknown pretext task 'rotate'" in err and "rotation" in err
    assert not out.exists()


def test_distill_hssakd_presets(tmp_path, capsys):
    import yaml

    ckpt = tmp_path / "t.pth"
    ckpt.write_bytes(b"")
    base = ["distill", "--teacher", "resnet8", "--teacher-ckpt", str(ckpt), "--student", "resnet8", "--print-config"]
    assert main(base + ["--method", "hssakd"]) == 0
    stages = yaml.safe_load(capsys.readouterr().out)["stages"]
    assert [(s["method"], s["epochs"], s["nesterov"]) for s in stages] == [("hssakd_teacher", 100, True),
                                                                           ("hssakd", 240, True)]
    assert main(base + ["--method", "hssakd_student", "--epochs", "3"]) == 0
    stages = yaml.safe_load(capsys.readouterr().out)["stages"]
    assert [(s["method"], s["epochs"]) for s in stages] == [("hssakd", 3)]
