"""README.md stays true: its library example runs as printed and learns, its quick start names our scripts."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title):
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def test_library_example_runs_as_printed_and_fits_the_sine(tmp_path):
    code = re.search(r"```python\n(.*?)```", section("The library in 20 lines"), re.S).group(1)
    assert len(code.strip().splitlines()) <= 20
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    mse = float(re.fullmatch(r"MSE (\S+)\n", out.stdout).group(1))
    assert mse < 1e-3
    state = np.load(tmp_path / "sine.npz")
    assert state["0.weight"].shape == (32, 1) and state["4.weight"].shape == (1, 32)


def test_quick_start_is_two_commands_that_exist():
    commands = re.findall(r"```\n(.*?)\n```", section("Quick start"))
    assert commands == ["./scripts/start", "./scripts/test"]
    for command in commands:
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "./scripts/test"  # CI runs README's exact test command
