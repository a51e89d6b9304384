"""``sskd export`` through the command line."""

from export_helpers import write_run

from sskd.cli import main


def test_export_command_writes_the_file_and_reports_the_check(tmp_path, capsys):
    write_run(tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), "--format", "torchscript"]) == 0
    out = capsys.readouterr().out
    assert "torchscript check: max abs difference" in out
    assert f"wrote {tmp_path / 'run' / 'export' / 'model.pt'}" in out
    assert (tmp_path / "run" / "export" / "model.pt").is_file()


def test_export_command_errors_exit_2_with_one_line(tmp_path, capsys):
    write_run(tmp_path / "run", network="teacher_head", stage="teacher_head")
    assert main(["export", str(tmp_path / "run"), "--format", "safetensors"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sskd export: error: ") and "no trained student to export" in err
    assert len(err.strip().splitlines()) == 1
