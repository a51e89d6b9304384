import pytest
from fuzz_helpers import CLI, fingerprint


@pytest.fixture(scope="session")
def cli():
    """``cli.run(argv, cwd)``: ``sskd *argv`` in its own process."""
    server = CLI()
    yield server
    server.close()


@pytest.fixture(scope="session")
def world(tmp_path_factory, teacher_file):
    """What a user already has and a refused command must leave alone: a finished SSKD run on
    digits (``runs/finished``), the stage cache (``runs/cache``), an exported network
    (``exported.safetensors``) and a teacher checkpoint (``teacher.safetensors``)."""
    import shutil

    from sskd.config import config_from_dict
    from sskd.engine import train
    from sskd.export import export_run

    root = tmp_path_factory.mktemp("world")
    shutil.copy(teacher_file, root / "teacher.safetensors")
    train(config_from_dict({
        "seed": 0, "device": "cpu", "model": {"name": "resnet8"},
        "teacher": {"name": "resnet8", "checkpoint": str(root / "teacher.safetensors")},
        "data": {"name": "digits", "batch_size": 64, "train_fraction": 0.1},
        "output": {"dir": str(root / "runs"), "name": "finished", "progress": "none", "tensorboard": False},
        "stages": [{"name": "teacher_head", "method": "sskd_teacher_head", "epochs": 1, "seed": 0},
                   {"name": "student", "method": "sskd", "epochs": 1}]}))
    export_run(str(root / "runs" / "finished"), "safetensors", out=str(root / "exported.safetensors"))
    return root


@pytest.fixture(autouse=True)
def untouched(request):
    """Every file of the world is byte for byte the same after each test that uses it."""
    if "world" not in request.fixturenames:
        yield
        return
    world = request.getfixturevalue("world")
    before = fingerprint(world)
    yield
    assert fingerprint(world) == before
