"""A run killed with SIGKILL in mid-epoch and resumed ends with the same weights."""

import os
import signal
import subprocess
import sys
import time

from safetensors.torch import load_file

ARGS = ["--model", "resnet8", "--dataset", "digits", "--train-fraction", "0.25", "--epochs", "3", "--batch-size", "16",
        "--device", "cpu", "--deterministic", "--progress", "lines", "--log-every", "1",
        "--set", "output.tensorboard=false"]


def sskd(*args):
    return [sys.executable, "-m", "sskd.cli", *args]


def run_to_end(args, cwd):
    done = subprocess.run(sskd(*args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    run_to_end(["train", *ARGS, "--out-dir", str(tmp_path), "--name", "whole"], tmp_path)

    proc = subprocess.Popen(sskd("train", *ARGS, "--out-dir", str(tmp_path), "--name", "killed"),
                            cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    killed_at = None
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        if line.startswith("[train] epoch 2/3 step 10/"):
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = line.strip()
            break
        assert time.monotonic() < deadline
    proc.wait(timeout=60)
    assert killed_at is not None and proc.returncode == -signal.SIGKILL
    killed = tmp_path / "killed"
    assert (killed / "checkpoints" / "latest").read_text() == "s00-e0001"
    assert not (killed / "model.safetensors").exists()

    resumed = run_to_end(["train", "--resume", str(killed)], tmp_path)
    assert "resumed" in resumed.stderr and "epoch 1" in resumed.stderr

    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    again = load_file(str(killed / "model.safetensors"))
    assert whole.keys() == again.keys()
    different = [k for k in whole if not (whole[k] == again[k]).all()]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    lines = (killed / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
