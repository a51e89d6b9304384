"""The packages that import one another import on their own, first, in a fresh interpreter
(an import cycle shows up only then)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module, check", [
    ("sskd.methods", "assert {'hssakd', 'hssakd_online', 'sskd', 'kd'} <= set(m.list_methods())"),
    ("sskd.selfsup", "assert 'jigsaw' in m.list_pretext_tasks()"),
    ("sskd.models.branches", "assert 'resnet8x4' in m.supported_branch_models()"),
])
def test_a_package_imports_first(module, check):
    done = subprocess.run([sys.executable, "-c", f"import {module} as m; {check}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
