"""Bad configurations, runs and devices given to ``sskd train`` / ``eval``: each is refused
with one line naming the offending key, value or file, before any training starts."""

import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from fuzz_helpers import CaseTable, assert_refused, fingerprint, resume

RUN = ["--dataset", "digits", "--device", "cpu", "--progress", "none", "--epochs", "1"]


def train(tmp, *argv):
    return ["train", *RUN, "--out-dir", tmp / "runs", *argv]


def recipe(tmp, text, name="recipe.yaml"):
    path = tmp / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def copy_finished(tmp, world):
    run = tmp / "run"
    shutil.copytree(world / "runs" / "finished", run)
    return run


def edit_config(run, change):
    path = run / "config.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


# Each case: (tmp_path, world) -> (argv, verb, names the one-line error must contain).
CASES = case = CaseTable()


def sets(name, *assignments, names):
    """A case made of ``--set`` overrides only."""
    def make(tmp, world):
        return train(tmp, *[a for s in assignments for a in ("--set", s)]), "train", list(names)
    CASES[name] = make


# --- unknown keys at every level -------------------------------------------------------
@case
def unknown_top_level_key(tmp, world):
    return ["train", "--recipe", recipe(tmp, "seeed: 3\n"), "--out-dir", tmp / "runs"], "train", ["seeed"]


sets("unknown_data_key", "data.batchsize=8", names=["data.batchsize"])
sets("unknown_model_key", "model.depth=3", names=["model.depth"])
sets("unknown_speed_key", "speed.turbo=true", names=["speed.turbo"])
sets("unknown_output_key", "output.folder=x", names=["output.folder"])
sets("unknown_stage_key", "stages.0.epoch=3", names=["stages[0].epoch"])
sets("unknown_stage_args_key", "stages.0.method=kd", "stages.0.args.temperature=3",
     names=["stages[0].args.temperature"])


@case
def unknown_teacher_key(tmp, world):
    text = "teacher: {name: resnet8, ckpt: teacher.safetensors}\n"
    return ["train", "--recipe", recipe(tmp, text), "--out-dir", tmp / "runs"], "train", ["teacher.ckpt"]


@case
def unknown_stage_args_key_over_a_preset(tmp, world):
    text = (f"base: sskd\nteacher: {{name: resnet8, checkpoint: {world / 'teacher.safetensors'}}}\n"
            f"stages: {{student: {{args: {{tau: 2}}}}}}\n")
    return ["train", "--recipe", recipe(tmp, text), "--out-dir", tmp / "runs"], "train", ["stages[1].args.tau"]


# --- wrong types, impossible values -----------------------------------------------------
sets("batch_size_not_a_number", "data.batch_size=abc", names=["data.batch_size", "abc"])
sets("list_for_a_number", "stages.0.lr=[0.1, 0.2]", names=["stages[0].lr"])
sets("mapping_for_a_number", "data.batch_size={a: 1}", names=["data.batch_size"])
sets("lr_nan", "stages.0.lr=.nan", names=["stages[0].lr", "nan"])
sets("lr_inf", "stages.0.lr=.inf", names=["stages[0].lr", "inf"])
sets("lr_negative", "stages.0.lr=-1", names=["stages[0].lr", "-1"])
sets("weight_decay_nan", "stages.0.weight_decay=.nan", names=["stages[0].weight_decay", "nan"])
sets("weight_decay_inf", "stages.0.weight_decay=.inf", names=["stages[0].weight_decay", "inf"])
sets("label_smoothing_inf", "stages.0.label_smoothing=.inf", names=["stages[0].label_smoothing", "inf"])
sets("momentum_nan", "stages.0.momentum=.nan", names=["stages[0].momentum", "nan"])
sets("epochs_zero", "stages.0.epochs=0", names=["stages[0].epochs", "0"])
sets("milestones_out_of_range", "stages.0.epochs=5", "stages.0.milestones=[2, 9]",
     names=["stages[0].milestones", "9"])
sets("milestone_not_an_integer", "stages.0.epochs=5", "stages.0.milestones=[2.5]", names=["stages[0].milestones"])
sets("empty_stage_list", "stages=[]", names=["stages"])
sets("override_without_value", "data.batch_size", names=["data.batch_size"])
sets("override_into_a_value", "seed.x=1", names=["seed"])


@case
def lr_nan_flag(tmp, world):
    return train(tmp, "--lr", "nan"), "train", ["stages[0].lr", "finite"]


@case
def empty_stage_list_in_a_recipe(tmp, world):
    return ["train", "--recipe", recipe(tmp, "stages: []\n"), "--out-dir", tmp / "runs"], "train", ["stages"]


# --- recipes: base chains, YAML features, size -----------------------------------------
@case
def recipe_based_on_itself(tmp, world):
    path = tmp / "loop.yaml"
    path.write_text(f"base: {tmp / 'loop'}\n")
    return ["train", "--recipe", path, "--out-dir", tmp / "runs"], "train", [str(tmp / "loop")]


@case
def recipe_based_on_an_unknown_preset(tmp, world):
    path = recipe(tmp, "base: loop\n", "loop.yaml")
    return ["train", "--recipe", path, "--out-dir", tmp / "runs"], "train", ["loop"]


@case
def recipe_base_not_a_name(tmp, world):
    return ["train", "--recipe", recipe(tmp, "base: [sskd]\n"), "--out-dir", tmp / "runs"], "train", ["base"]


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
    for a, b in zip("abcdefgh", "bcdefghi"))


@case
def alias_bomb(tmp, world):
    return ["train", "--recipe", recipe(tmp, BOMB), "--out-dir", tmp / "runs"], "train", ["recipe.yaml", "alias"]


@case
def alias_bomb_in_a_known_key(tmp, world):
    text = BOMB.replace("i: &i", "model: {name: resnet8, args: {x: &i") .rstrip() + "}}\n"
    return ["train", "--recipe", recipe(tmp, text), "--out-dir", tmp / "runs"], "train", ["recipe.yaml", "alias"]


@case
def alias_bomb_in_an_override(tmp, world):
    value = "[&a [x, x, x, x, x, x, x, x, x, x]" + "".join(
        f", &{b} [{', '.join([f'*{a}'] * 10)}]" for a, b in zip("abcdefg", "bcdefgh")) + "]"
    return train(tmp, "--set", f"model.args.x={value}"), "train", ["model.args.x", "alias"]


@case
def deeply_nested_yaml(tmp, world):
    return (["train", "--recipe", recipe(tmp, "a: " + "[" * 20000 + "]" * 20000 + "\n"), "--out-dir", tmp / "runs"],
            "train", ["recipe.yaml"])


@case
def python_tag(tmp, world):
    marker = tmp / "marker"
    text = f"seed: !!python/object/apply:os.system ['touch {marker}']\n"
    return ["train", "--recipe", recipe(tmp, text), "--out-dir", tmp / "runs"], "train", ["recipe.yaml"]


@case
def recipe_not_utf8(tmp, world):
    return (["train", "--recipe", recipe(tmp, b"seed: \xff\xfe\x00\x81\n"), "--out-dir", tmp / "runs"], "train",
            ["recipe.yaml"])


@case
def huge_recipe(tmp, world):
    path = tmp / "huge.yaml"
    with path.open("w") as f:
        f.write("seed: 0\n")
        line = "# " + "padding " * 12 + "\n"
        f.write(line * (50 * 2**20 // len(line)))
    return ["train", "--recipe", path, "--out-dir", tmp / "runs"], "train", ["huge.yaml", "MB"]


# --- runs --------------------------------------------------------------------------------
@case
def resume_a_finished_run(tmp, world):
    run = copy_finished(tmp, world)
    return resume(run), "train", [str(run), "finished"]


@case
def resume_with_an_edited_config(tmp, world):
    run = copy_finished(tmp, world)
    shutil.rmtree(run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip())
    (run / "checkpoints" / "latest").write_text(sorted(p.name for p in (run / "checkpoints").iterdir()
                                                       if p.name.startswith("s"))[-1])
    (run / "summary.json").unlink()
    edit_config(run, lambda raw: raw["stages"][1].update(epochs=3))
    return resume(run), "train", [str(run), "stages[1].epochs", "3"]


@case
def resume_config_of_another_version(tmp, world):
    run = copy_finished(tmp, world)
    edit_config(run, lambda raw: raw["output"].update(colour="blue"))
    return resume(run), "train", ["output.colour"]


@case
def resume_with_options(tmp, world):
    run = copy_finished(tmp, world)
    return resume(run) + ["--epochs", "5"], "train", ["--epochs"]


@case
def new_run_into_a_finished_one(tmp, world):
    run = copy_finished(tmp, world)
    return train(tmp, "--out-dir", tmp, "--name", "run"), "train", [str(run)]


# --- devices -----------------------------------------------------------------------------
def absent(device):
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        return not torch.cuda.is_available() or index >= torch.cuda.device_count()
    if device == "mps":
        return not torch.backends.mps.is_available()
    return True


for verb in ("train", "eval"):
    for device in ("cuda", "cuda:7", "mps", "gpu"):
        def make(tmp, world, verb=verb, device=device):
            if not absent(device):
                pytest.skip(f"{device} is present here")
            argv = (train(tmp, "--device", device) if verb == "train"
                    else ["eval", world / "exported.safetensors", "--device", device])
            return argv, verb, [device]
        CASES[f"{verb}_on_{device.replace(':', '')}"] = make


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_is_refused_before_training(cli, world, tmp_path, name):
    argv, verb, names = CASES[name](tmp_path, world)
    before = fingerprint(tmp_path)
    started = time.perf_counter()
    result = cli.run(argv, world)
    line = assert_refused(result, verb, *names)
    assert time.perf_counter() - started < 20, line
    assert fingerprint(tmp_path) == before, line  # refused before writing anything
    assert not (tmp_path / "runs").exists(), line
    assert not (tmp_path / "marker").exists()


def test_a_preset_chain_that_loops_is_refused(tmp_path, monkeypatch):
    from sskd import config

    (tmp_path / "p.yaml").write_text("base: q\n")
    (tmp_path / "q.yaml").write_text("base: p\n")
    monkeypatch.setattr(config, "PRESETS_DIR", tmp_path)
    with pytest.raises(config.ConfigError, match=r"p -> q -> p"):
        config.load_preset("p")


# --- two processes, one run directory ---------------------------------------------------
def test_a_second_process_cannot_use_a_run_directory_in_use(cli, world, tmp_path):
    out = tmp_path / "runs"
    first = subprocess.Popen([sys.executable, "-m", "sskd.cli", "train", *RUN[:-1], "30", "--train-fraction", "0.2",
                              "--out-dir", str(out), "--name", "busy", "--keep-checkpoints", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = out / "busy"
    try:
        deadline = time.monotonic() + 60
        while not (run / "checkpoints" / "latest").is_file():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        config = (run / "config.yaml").read_bytes()
        for argv in (train(tmp_path, "--name", "busy"), resume(run)):
            line = assert_refused(cli.run(argv, world), "train", str(run), "in use", str(first.pid))
            assert first.poll() is None, line  # still training, unharmed
        assert (run / "config.yaml").read_bytes() == config
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    # Its lock went with it: the killed run can be taken up again.
    from sskd.engine.run_lock import RunLock

    RunLock.acquire(run).release()
    assert (run / "config.yaml").read_bytes() == config
