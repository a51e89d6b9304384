"""What ``export_run`` refuses, each with one sentence naming the path."""

import pytest
from export_helpers import write_run

from sskd.export import ExportError, export_run


def test_a_directory_without_model_safetensors_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match=r"empty has no model\.safetensors"):
        export_run(tmp_path / "empty", "safetensors")
    with pytest.raises(ExportError, match="no such run directory"):
        export_run(tmp_path / "missing", "safetensors")


@pytest.mark.parametrize("network, stage", [("teacher_head", "teacher_head"),
                                            ("teacher_branches", "teacher_branches")])
def test_a_teacher_side_stage_is_refused(tmp_path, network, stage):
    write_run(tmp_path / "run", network=network, stage=stage)
    with pytest.raises(ExportError, match=f"{network!r} network.*no trained student to export"):
        export_run(tmp_path / "run", "torchscript")
    assert not (tmp_path / "run" / "export").exists()


def test_an_unknown_format_is_refused(tmp_path):
    write_run(tmp_path / "run")
    with pytest.raises(ExportError, match=r"format 'tflite': expected one of onnx, torchscript, safetensors"):
        export_run(tmp_path / "run", "tflite")


def test_an_existing_output_is_kept_unless_forced(tmp_path):
    write_run(tmp_path / "run")
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"old")
    with pytest.raises(ExportError, match="exists already; pass --force"):
        export_run(tmp_path / "run", "safetensors", out=out)
    assert out.read_bytes() == b"old"
    export_run(tmp_path / "run", "safetensors", out=out, force=True)
    assert out.read_bytes() != b"old"


def test_onnx_without_its_extra_names_what_to_install(tmp_path, monkeypatch):
    from sskd.export import onnx_writer

    write_run(tmp_path / "run")
    monkeypatch.setattr(onnx_writer, "NEEDED", ("onnx", "sskd_no_such_module"))
    expected = r"--format onnx needs sskd_no_such_module; .*pip install 'sskd\[onnx\]'"
    with pytest.raises(ExportError, match=expected):
        export_run(tmp_path / "run", "onnx")
    assert not (tmp_path / "run" / "export" / "model.onnx").exists()
