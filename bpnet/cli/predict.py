"""`bpnet predict MODEL.npz [INPUTS.csv]`: a saved model's outputs for rows of inputs (a CSV file or stdin).

The inputs are one row per sample, the model's inputs in order (x; x,y; x1,x2[,x3]; MNIST: 784 grey levels in
[0, 1]), comma-separated, optionally under a header row naming them; the outputs are printed as CSV under a header
(y, z, or p0, p1, ...: class probabilities). Every problem (a file that is not a bpnet model, a row of the wrong
length, a word where a number belongs) is one line naming the file or the line, exit code 2.
"""
import csv
import io
import math
import sys
from pathlib import Path

import numpy as np

from ..engine.saved import ModelFileError, read
from ..engine.torch_export import torch_script
from .files import output_problems, write_atomically

__all__ = ["add_predict_command", "predict_command", "export_command", "read_inputs", "MAX_INPUT_BYTES"]

MAX_INPUT_BYTES = 64 * 1024 * 1024


def add_predict_command(sub):
    p = sub.add_parser("predict", help="a saved model's outputs for inputs from a CSV file or stdin",
                       description="Print a saved model's outputs (CSV) for rows of inputs read from a CSV file or, "
                       "without one or with -, from stdin. A header row naming the inputs is allowed.")
    p.add_argument("model", metavar="MODEL.npz", help="a model saved by the dashboard or `bpnet train --save-model`")
    p.add_argument("inputs", nargs="?", default="-", metavar="INPUTS.csv", help="the inputs (default: stdin)")
    p.add_argument("--info", action="store_true", help="describe the model (task, inputs, outputs, layers) instead")
    e = sub.add_parser("export", help="write a PyTorch script that builds the same network and loads MODEL.npz",
                       description="Write a runnable PyTorch script (numpy and torch only) that builds the same "
                       "torch.nn.Sequential as MODEL.npz's network and loads its weights (found beside it): "
                       "`python SCRIPT.py [MODEL.npz] [INPUTS.csv]` prints the network, or its outputs.")
    e.add_argument("model", metavar="MODEL.npz")
    e.add_argument("script", type=Path, metavar="SCRIPT.py")
    return p


def read_inputs(text, names):
    """An array (N, len(names)) from CSV text; ValueError naming the line for anything that is not such rows."""
    rows = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text)), 1) if any(c.strip() for c in row)]
    if rows and [c.strip() for c in rows[0][1]] == names:
        rows = rows[1:]
    if not rows:
        raise ValueError("no input rows: give one row per sample, " + _expected(names))
    values = np.empty((len(rows), len(names)), dtype=np.float64)
    for r, (line, row) in enumerate(rows):
        if len(row) != len(names):
            raise ValueError(f"line {line}: {len(row)} value{'s' if len(row) != 1 else ''}, expected "
                             + _expected(names))
        for c, cell in enumerate(row):
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"line {line}: {cell.strip()[:20]!r} is not a number ({names[c]})") from None
            if not math.isfinite(v):
                raise ValueError(f"line {line}: {names[c]} is {cell.strip()[:20]}, not a finite number")
            values[r, c] = v
    return values


def _expected(names):
    if len(names) == 1:
        return f"1 number ({names[0]})"
    return (f"{len(names)} numbers ({', '.join(names)})" if len(names) <= 8
            else f"{len(names)} numbers ({names[0]} to {names[-1]})")


def _read_text(path):
    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        where = "stdin"
    else:
        with open(path, "rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
        where = path
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"{where}: more than {MAX_INPUT_BYTES // (1024 * 1024)} MB of inputs")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not text (UTF-8 CSV)") from None


def _info(saved):
    c = saved.config
    inputs = "784 grey levels in [0, 1] (28x28, row by row)" if saved.task == "mnist" else ", ".join(saved.inputs)
    return "\n".join([f"task: {saved.task}" + (f" ({c['formula']})" if "formula" in c else ""),
                      f"inputs: {inputs}", f"outputs: {', '.join(saved.outputs)} ("
                      + ("class probabilities" if saved.classifier else "values") + ")",
                      f"input normalisation: {saved.normalization['kind']}", repr(saved.model)])


def _read_model(args, error):
    """The SavedModel args.model names, or None once error() has said why it cannot be used."""
    try:
        return read(args.model)
    except ModelFileError as exc:
        error(f"{args.model}: {exc}")
        return None


def predict_command(args, error):
    """Run `bpnet predict`; error(message) prints a problem; returns the exit code."""
    saved = _read_model(args, error)
    if saved is None:
        return 2
    if args.info:
        print(_info(saved))
        return 0
    try:
        x = read_inputs(_read_text(args.inputs), saved.inputs)
        out = saved.predict(x)
    except OSError as exc:
        error(f"cannot read {args.inputs}: {exc.strerror or exc}")
        return 2
    except ValueError as exc:
        error(f"{'stdin' if args.inputs == '-' else args.inputs}: {exc}" if str(exc).startswith("line ") else str(exc))
        return 2
    lines = [",".join(saved.outputs)] + [",".join(f"{v:.9g}" for v in row) for row in out.tolist()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def export_command(args, error):
    """Run `bpnet export MODEL.npz SCRIPT.py`; returns the exit code."""
    saved = _read_model(args, error)
    if saved is None:
        return 2
    if args.script.suffix != ".py":
        error(f"{args.script.name} must end in .py")
        return 2
    problem = output_problems(args.script, None, [""]).get("--save-model")
    if problem:
        error(problem)
        return 2
    npz_name = Path(args.model).name
    if Path(args.model).resolve().parent != args.script.resolve().parent:
        print(f"note: the script looks for {npz_name} beside itself; else give the model's path when running it")
    try:
        write_atomically(args.script, torch_script(saved, npz_name, args.script.name).encode())
    except OSError as exc:
        error(f"cannot write {args.script}: {exc.strerror or exc}")
        return 1
    print(f"PyTorch script saved to {args.script}: python {args.script} prints the network; "
          f"python {args.script} {npz_name} INPUTS.csv its outputs")
    return 0
