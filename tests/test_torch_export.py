"""Export to PyTorch: the generated script builds the same torch.nn.Sequential, loads the .npz as it is (the
state_dict keys are torch's) and gives bpnet's outputs on the validation set, run as a user runs it."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from bpnet.engine.saved import read
from bpnet.engine.torch_export import torch_script
from test_saved import CNN, FIT, MNIST, SPHERES, SURFACE, finished, raw_and_model_inputs

CONFIGS = {"fit": FIT, "surface-bn-dropout": SURFACE, "spheres-sigmoid": SPHERES, "mnist-raw": dict(MNIST, normalize_inputs=False),
           "cnn-bn-leaky-dropout": CNN}


def export(job, folder):
    """The job's model saved as the dashboard's two downloads, the script imported."""
    saved = read(job.model_npz())
    (folder / "model.npz").write_bytes(saved.npz())
    (folder / "model.py").write_text(torch_script(saved, "model.npz", "model.py"))
    spec = importlib.util.spec_from_file_location(f"exported_{id(job)}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return saved, module


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_torch_model_gives_bpnets_outputs_on_the_validation_set(config, tmp_path):
    job = finished(config)
    saved, script = export(job, tmp_path)
    model = script.load()
    assert isinstance(model, torch.nn.Sequential) and not model.training
    assert list(model.state_dict()) == list(saved.model.state_dict())  # the same keys, in the same order
    assert [type(m).__name__ for m in model] == [type(m).__name__ for m in saved.model]
    raw, _ = raw_and_model_inputs(job)
    ours = saved.predict(raw)
    theirs = script.predict(model, raw)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)  # float32 both: sums in another order
    assert np.abs(ours).max() > 0


def test_the_script_runs_on_its_own_with_a_csv_of_inputs(tmp_path):
    job = finished(SPHERES)
    saved, _ = export(job, tmp_path)
    raw, _ = raw_and_model_inputs(job)
    (tmp_path / "inputs.csv").write_text("x1,x2,x3\n" + "\n".join(",".join(map(repr, row.tolist())) for row in raw[:20]))
    run = lambda *args: subprocess.run([sys.executable, "model.py", *args], cwd=tmp_path, capture_output=True,  # noqa: E731
                                       text=True, timeout=120)
    shown = run()
    assert shown.returncode == 0 and shown.stdout.startswith("Sequential(\n  (0): Linear(in_features=3, out_features=8")
    out = run("model.npz", "inputs.csv")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header == "p0,p1"
    np.testing.assert_allclose(np.array([r.split(",") for r in rows], dtype=float), saved.predict(raw[:20]),
                               rtol=1e-5, atol=1e-6)
