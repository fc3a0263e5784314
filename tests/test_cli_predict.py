"""`bpnet predict`: a saved model's outputs for inputs from a CSV file or stdin; every mistake one clear line."""
import io
import sys

import numpy as np
import pytest

import bpnet
from bpnet.cli import main
from test_cli import TINY_FLAGS


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("predict") / "fit.npz"
    assert main(["train", *TINY_FLAGS, "--save-model", str(path)]) == 0
    return path


def predict(capsys, monkeypatch, *args, stdin=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main(["predict", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_outputs_for_a_csv_file_equal_the_loaded_models(model, tmp_path, capsys, monkeypatch):
    capsys.readouterr()
    (tmp_path / "in.csv").write_text("x\n0.5\n-1.25\n\n2\n")
    code, out, err = predict(capsys, monkeypatch, model, tmp_path / "in.csv")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header == "y"
    expected = bpnet.load(model).predict([[0.5], [-1.25], [2]])
    np.testing.assert_allclose([float(r) for r in rows], expected[:, 0], rtol=1e-7)


def test_inputs_from_stdin_without_a_header(model, capsys, monkeypatch):
    code, out, _ = predict(capsys, monkeypatch, model, stdin="0.5\n")
    assert code == 0 and out.splitlines()[0] == "y" and len(out.splitlines()) == 2


@pytest.mark.parametrize("stdin, message", [
    ("", "error: no input rows: give one row per sample, 1 number (x)\n"),
    ("1,2\n", "error: stdin: line 1: 2 values, expected 1 number (x)\n"),
    ("x\n0.1\nabc\n", "error: stdin: line 3: 'abc' is not a number (x)\n"),
    ("inf\n", "error: stdin: line 1: x is inf, not a finite number\n"),
    ("\udcff", None),
])
def test_bad_inputs_are_one_line_naming_it(model, capsys, monkeypatch, stdin, message):
    if stdin == "\udcff":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe0.5")))
        code, _, err = predict(capsys, monkeypatch, model)
        assert (code, err) == (2, "error: stdin is not text (UTF-8 CSV)\n")
        return
    code, out, err = predict(capsys, monkeypatch, model, stdin=stdin)
    assert (code, out, err) == (2, "", message)


def test_a_file_that_is_not_a_model_is_named(model, tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.npz").write_text("my notes")
    code, out, err = predict(capsys, monkeypatch, tmp_path / "notes.npz", stdin="1\n")
    assert code == 2 and out == "" and err.startswith(f"error: {tmp_path / 'notes.npz'}: this is not a .npz model")
    code, _, err = predict(capsys, monkeypatch, tmp_path / "nothing.npz", stdin="1\n")
    assert code == 2 and "No such file or directory" in err and err.count("\n") == 1
    code, _, err = predict(capsys, monkeypatch, model, tmp_path / "none.csv")
    assert (code, err) == (2, f"error: cannot read {tmp_path / 'none.csv'}: No such file or directory\n")


def test_info_describes_the_model(model, capsys, monkeypatch):
    code, out, _ = predict(capsys, monkeypatch, model, "--info")
    assert code == 0 and out.startswith("task: function (sin(2*x))\ninputs: x\noutputs: y (values)\n")
    assert "(0): Linear(in_features=1, out_features=6, bias=True)" in out


def test_export_writes_a_pytorch_script_or_says_why_not(model, tmp_path, capsys, monkeypatch):
    script = tmp_path / "fit.py"
    code, out, err = predict_export(capsys, model, script)
    assert (code, err) == (0, "") and f"PyTorch script saved to {script}" in out
    assert "def build():" in script.read_text() and "MODEL_FILE = 'fit.npz'" in script.read_text()
    assert predict_export(capsys, model, tmp_path / "fit.txt")[2] == "error: fit.txt must end in .py\n"
    assert "does not exist" in predict_export(capsys, model, tmp_path / "no" / "fit.py")[2]
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert "this is not a .npz model file" in predict_export(capsys, tmp_path / "junk.npz", script)[2]


def predict_export(capsys, model, script):
    code = main(["export", str(model), str(script)])
    out = capsys.readouterr()
    return code, out.out, out.err
