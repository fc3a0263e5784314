"""README.md stays true: its examples run as printed, the way a user runs them (saved as a file outside the checkout,
run with the environment's python, no PYTHONPATH), the files they write are git-ignored, and its quick start names
our scripts."""
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
USER_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "OPENBLAS_NUM_THREADS": "1"}
# the README's CLI examples with fewer images and epochs appended (later flags win): the same code path, in seconds
SMALL_MNIST = ["--n-samples", "1000", "--hidden", "16", "--epochs", "1", "--val-subset", "100", "--eval-every", "4"]


def section(title):
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def as_a_user(argv, cwd):
    """Run argv with this environment's python (the venv's: scripts/test runs pytest with it) from cwd."""
    out = subprocess.run([sys.executable, *argv], cwd=cwd, env=USER_ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def cli_block():
    return re.search(r"```\n(.*?)```", section("The command-line trainer"), re.S).group(1)


def cli_examples():
    block = cli_block()
    commands = [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]
    assert all(c[:3] == [".venv/bin/python", "-m", "bpnet"] for c in commands)
    return [c[3:] for c in commands]


def test_bpnet_is_installed_in_the_environment_from_this_checkout(tmp_path):
    where = as_a_user(["-c", "import bpnet; print(bpnet.__file__)"], tmp_path).strip()
    assert Path(where).resolve().is_relative_to(ROOT), f"bpnet comes from {where}, not from this checkout"
    command = Path(sys.executable).parent / "bpnet"  # the README's `.venv/bin/bpnet`
    assert "job finished" in subprocess.run([command, "train", "--epochs", "1", "--quiet"], cwd=tmp_path, env=USER_ENV,
                                            capture_output=True, text=True, timeout=60).stdout


def test_library_example_runs_as_a_file_outside_the_checkout_and_loads_back(tmp_path):
    fit, load = re.findall(r"```python\n(.*?)```", section("The library in 20 lines"), re.S)
    assert len(fit.strip().splitlines()) <= 20
    (tmp_path / "sine.py").write_text(fit)
    (tmp_path / "load.py").write_text(load)
    mse = float(re.fullmatch(r"MSE (\S+)\n", as_a_user(["sine.py"], tmp_path)).group(1))
    assert mse < 1e-3
    state = np.load(tmp_path / "sine.npz")
    assert state["0.weight"].shape == (32, 1) and state["4.weight"].shape == (1, 32)
    value = float(re.fullmatch(r"sin\(1\) = (\S+)\n", as_a_user(["load.py"], tmp_path)).group(1))
    assert value == pytest.approx(math.sin(1), abs=0.03)  # the trained model, not a fresh one


def test_command_line_examples_run_outside_the_checkout(tmp_path):
    for argv in cli_examples():
        small = SMALL_MNIST if "mnist" in argv or argv[0] == "compare" else []
        out = as_a_user(["-m", "bpnet", *argv, *small], tmp_path)
        if argv[0] != "fields":
            assert "job finished" in out
    assert np.load(tmp_path / "fit.npz")["0.weight"].shape == (32, 1)
    assert (tmp_path / "fit.csv").read_text().startswith("step,epoch,loss")
    assert '"label": "ReLU"' in (tmp_path / "activation.json").read_text()


def test_the_files_the_examples_write_are_git_ignored():
    written = re.findall(r"--save-(?:model|history) (\S+)", cli_block())
    written += re.findall(r'np\.savez\("([^"]+)"', section("The library in 20 lines"))
    assert sorted(written) == ["activation.json", "fit.csv", "fit.npz", "sine.npz"]
    for name in written:
        check = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT)
        assert check.returncode == 0, f"{name} is not in .gitignore"


def test_quick_start_is_two_commands_that_exist():
    commands = re.findall(r"```\n(.*?)\n```", section("Quick start"))
    assert commands == ["./scripts/start", "./scripts/test"]
    for command in commands:
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "./scripts/test"  # CI runs README's exact test command
