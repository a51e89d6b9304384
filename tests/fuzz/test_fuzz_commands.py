"""Bad input to the commands beyond training: each is one line, exit 2, and changes nothing;
``--debug`` (or ``SSKD_DEBUG=1``) shows the traceback instead."""

import subprocess
import sys

import pytest
from fuzz_helpers import assert_refused


def case(verb, *argv, names=()):
    return pytest.param(verb, list(argv), list(names), id=f"{verb}-{len(argv)}-{'-'.join(map(str, names))[:40]}")


CASES = [
    case("eval", "nowhere/run", names=["nowhere/run"]),
    case("eval", "runs", names=["runs", "model.safetensors"]),
    case("export", "runs/finished", "--format", "safetensors", "--out", "exported.safetensors",
         names=["exported.safetensors"]),
    case("export", "nowhere", "--format", "onnx", names=["nowhere"]),
    case("similarity", "teacher.safetensors", "nowhere/run", names=["nowhere/run"]),
    case("similarity", "runs/finished", "runs/finished", "--temperatures", "0", names=["0"]),
    case("tsne", "runs/finished", "--out", "map.png", "--classes", "11", names=["11"]),
    case("tsne", "runs/finished", "--out", "map.txt", names=["map.txt"]),
    case("probe", "runs/finished", "--dataset", "digits", "--epochs", "0", names=["epochs"]),
    case("probe", "runs/finished", "--dataset", "mnist", names=["mnist"]),
    case("report", "runs/finished", names=["plan.json"]),
    case("experiment", "--recipe", "no_such_experiment", names=["no_such_experiment"]),
    case("experiment", "--out", "runs", names=["experiment.yaml"]),
    case("demo", "--out-dir", "runs", names=["runs"]),
    case("recipes", names=()),  # a good command: the table runs every case through the same checks
]


@pytest.mark.parametrize("verb, argv, names", CASES)
def test_bad_input_is_one_line_and_changes_nothing(cli, world, verb, argv, names):
    result = cli.run([verb, *argv], world)
    if verb == "recipes":
        assert result.returncode == 0 and "cifar100_sskd_resnet32x4-resnet8x4" in result.stdout
        return
    assert_refused(result, verb, *names)


def test_debug_shows_the_traceback(cli, world):
    for argv, env in ((["--debug", "eval", "nowhere/run"], {}), (["eval", "nowhere/run"], {"SSKD_DEBUG": "1"})):
        result = cli.run(argv, world, env)
        assert result.returncode == 1 and "Traceback" in result.stderr and "CheckpointError" in result.stderr


def test_the_console_script_answers_as_the_forked_one(cli, world):
    """The fuzz cases run in forks of one process; the real command behaves the same."""
    argv = ["eval", "nowhere/run"]
    real = subprocess.run([sys.executable, "-m", "sskd.cli", *argv], cwd=world, capture_output=True, text=True)
    forked = cli.run(argv, world)
    assert (real.returncode, real.stdout, real.stderr) == (forked.returncode, forked.stdout, forked.stderr)
    assert_refused(forked, "eval", "nowhere/run")
