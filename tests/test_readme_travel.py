"""README 'Models that travel' stays true: its commands and its two Python examples run as printed, as files in a
temporary directory outside the checkout (the environment's python, no PYTHONPATH), and agree: bpnet predict,
bpnet.load and the exported PyTorch script give the same outputs; the files they write are git-ignored."""
import re
import subprocess
import sys

import numpy as np

from test_readme import ROOT, USER_ENV, as_a_user, section

TEXT = section("Models that travel")


def test_the_commands_and_examples_run_and_agree(tmp_path):
    blocks = re.findall(r"```(\w*)\n(.*?)```", TEXT, re.S)
    (shell,) = [b for lang, b in blocks if lang == ""]
    use_bpnet, use_torch = [b for lang, b in blocks if lang == "python"]
    script = shell.replace(".venv/bin/python", sys.executable)
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=USER_ENV, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    ours = [float(v) for v in lines[lines.index("y") + 1:lines.index("y") + 3]]  # bpnet predict's rows
    theirs = [float(v) for v in lines[-2:]]  # the torch script's rows
    assert lines[-3] == "y" and np.allclose(theirs, ours, atol=1e-6)
    assert abs(ours[0] - np.sin(1.5)) < 0.2  # a trained model, not a fresh one
    (tmp_path / "use_sine3.py").write_text(use_bpnet)
    (tmp_path / "use_torch.py").write_text(use_torch)
    first, *rows = as_a_user(["use_sine3.py"], tmp_path).splitlines()
    assert first == "sin(3*x) ['x'] -> ['y']"
    np.testing.assert_allclose(np.array(re.findall(r"[-\d.e]+", " ".join(rows)), dtype=float), ours, rtol=1e-6)
    first, *rows = as_a_user(["use_torch.py"], tmp_path).splitlines()
    assert first == "Sequential 5 layers"
    np.testing.assert_allclose(np.array(re.findall(r"[-\d.e]+", " ".join(rows)), dtype=float), ours, atol=1e-6)


def test_the_files_the_examples_write_are_git_ignored():
    written = ["sine3.npz", "inputs.csv", "sine3.py", "use_sine3.py", "use_torch.py"]
    for name in written:
        assert name in TEXT
        assert subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT).returncode == 0, name
