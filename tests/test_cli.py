"""`python -m bpnet`: headless training with final metrics, model and history files; comparisons; the schema."""
import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpnet.cli import main
from bpnet.engine.config import FIELDS, TASKS, field_spec, validate_config
from bpnet.engine.experiments import BASE, COMPARISONS
from bpnet.engine.models import build_model

ROOT = Path(__file__).resolve().parents[1]
# 40 points -> 32 training -> 4 steps per epoch
TINY_FLAGS = ["--task", "function", "--formula", "sin(2*x)", "--n-samples", "40", "--hidden", "6,6",
              "--batch-size", "8", "--epochs", "3", "--quiet"]


def test_train_writes_the_model_and_a_csv_history(tmp_path, capsys):
    model, history = tmp_path / "fit.npz", tmp_path / "history.csv"
    assert main(["train", *TINY_FLAGS, "--save-model", str(model), "--save-history", str(history)]) == 0
    out = capsys.readouterr().out
    assert "train_loss" in out and "val_loss" in out and "job finished" in out
    assert "time " not in out.replace("\n", " ")  # (events carry a timestamp: not a metric)
    assert str(model) in out and str(history) in out

    rows = list(csv.reader(history.read_text().splitlines()))
    assert rows[0] == ["step", "epoch", "loss", "val_loss", "val_acc", "lr"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 13))

    state = dict(np.load(model))
    config = validate_config({"task": "function", "formula": "sin(2*x)", "n_samples": 40, "hidden": [6, 6],
                              "batch_size": 8, "epochs": 3})
    fresh = build_model(config, (1,), 1, np.random.default_rng(99))
    fresh.load_state_dict(state)  # the file holds exactly this architecture's parameters
    assert set(state) == set(fresh.state_dict())
    assert state["0.weight"].shape == (6, 1)


def test_train_ends_with_the_runs_verdict_in_words(tmp_path, capsys):
    history = tmp_path / "history.json"
    assert main(["train", *TINY_FLAGS, "--save-history", str(history)]) == 0
    verdict = json.loads(history.read_text())["runs"][0]["verdict"]
    assert f"verdict: {verdict['text']}\n" in capsys.readouterr().out
    assert main(["train", *TINY_FLAGS, "--formula", "100*x^3", "--x-min", "-10", "--x-max", "10", "--optimizer", "sgd",
                 "--lr", "10"]) == 1
    assert "verdict: diverged at step " in capsys.readouterr().out


def test_train_writes_a_json_history(tmp_path, capsys):
    history = tmp_path / "history.json"
    assert main(["train", *TINY_FLAGS, "--seed", "4", "--save-history", str(history)]) == 0
    h = json.loads(history.read_text())
    assert h["state"] == "finished" and len(h["runs"]) == 1
    run = h["runs"][0]
    assert run["steps"]["step"] == list(range(1, 13))
    assert run["dataset"]["config"]["seed"] == 4
    assert run["final"]["steps"] == 12


def test_same_seed_gives_the_same_history(tmp_path, capsys):
    for name in ("a.json", "b.json"):
        assert main(["train", *TINY_FLAGS, "--save-history", str(tmp_path / name)]) == 0
    a, b = (json.loads((tmp_path / n).read_text())["runs"][0]["steps"]["loss"] for n in ("a.json", "b.json"))
    assert a == b


def test_config_file_with_flags_overriding_it(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"task": "classification", "dataset": "moons", "n_samples": 50, "hidden": [4],
                                  "epochs": 50, "batch_size": 10}))
    history = tmp_path / "h.json"
    assert main(["train", "--config", str(config), "--epochs", "2", "--batch-norm", "--quiet",
                 "--save-history", str(history)]) == 0
    cfg = json.loads(history.read_text())["runs"][0]["dataset"]["config"]
    assert cfg["epochs"] == 2 and cfg["batch_norm"] is True and cfg["dataset"] == "moons"
    assert "train_acc" in capsys.readouterr().out


def test_bad_settings_exit_2_with_one_line_per_field(capsys):
    assert main(["train", "--task", "function", "--lr", "100", "--epochs", "0", "--formula", "sin(x", "--quiet"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert {line.split(":")[1].strip() for line in lines} == {"lr", "epochs", "formula"}
    assert "between" in err and "column" in err


def test_unknown_setting_in_a_config_file_exits_2(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"task": "function", "learning_rate": 0.1}))
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    assert "learning_rate: unknown setting" in capsys.readouterr().err


def test_invalid_json_config_exits_2(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text("{task: function")
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_missing_or_non_object_config_file_exits_2(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nowhere.json"), "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err
    config = tmp_path / "list.json"
    config.write_text("[1, 2]")
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    assert "error: config:" in capsys.readouterr().err


def test_unknown_command_or_flag_is_a_usage_error(capsys):
    for argv in (["fly"], ["train", "--learning-rate", "0.1"], []):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_exits_1_and_says_why(capsys):
    code = main(["train", "--formula", "100*x^3", "--x-min", "-10", "--x-max", "10", "--optimizer", "sgd", "--lr",
                 "10", "--n-samples", "50", "--hidden", "8", "--epochs", "20", "--quiet"])
    assert code == 1
    out = capsys.readouterr().out
    assert "job failed" in out and "lower learning rate" in out


def test_compare_trains_every_variant(tmp_path, capsys):
    history = tmp_path / "compare.json"
    code = main(["compare", "activation", *TINY_FLAGS, "--save-history", str(history)])
    assert code == 0
    out = capsys.readouterr().out
    for label in ("[sigmoid]", "[tanh]", "[ReLU]"):
        assert label in out
    h = json.loads(history.read_text())
    assert [r["label"] for r in h["runs"]] == ["sigmoid", "tanh", "ReLU"]
    assert [r["dataset"]["config"]["activation"] for r in h["runs"]] == ["sigmoid", "tanh", "relu"]
    assert all(r["steps"]["step"] == list(range(1, 13)) for r in h["runs"])
    assert all(r["dataset"]["config"]["hidden"] == [6, 6] for r in h["runs"])  # the flags override the base


def test_compare_writes_every_run_to_a_csv_history_with_a_run_column(tmp_path, capsys):
    history = tmp_path / "compare.csv"
    assert main(["compare", "activation", *TINY_FLAGS, "--save-history", str(history)]) == 0
    header, *rows = csv.reader(history.read_text().splitlines())
    assert header == ["run", "step", "epoch", "loss", "val_loss", "val_acc", "lr"]
    assert [(r[0], int(r[1])) for r in rows] == [(label, step) for label in ("sigmoid", "tanh", "ReLU")
                                                 for step in range(1, 13)]
    assert len({r[3] for r in rows}) > 12  # each run's own losses


def test_compare_saves_each_variants_model(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["compare", "activation", *TINY_FLAGS, "--save-model", str(model)]) == 0
    out = capsys.readouterr().out
    weights = []
    for label in ("sigmoid", "tanh", "relu"):
        path = tmp_path / f"m-{label}.npz"
        assert f"model saved to {path}" in out
        weights.append(np.load(path)["2.weight"])
    assert not model.exists() and not np.array_equal(weights[0], weights[1])


def test_compare_rejects_an_unknown_comparison(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "haircut", "--quiet"])
    assert info.value.code == 2


def test_fields_json_prints_the_schema(capsys):
    assert main(["fields", "--json"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema) == set(TASKS)
    assert schema["function"]["lr"]["min"] == 1e-6 and schema["mnist"]["epochs"]["max"] == 100
    assert main(["fields", "--json", "--task", "mnist"]) == 0
    assert json.loads(capsys.readouterr().out)["lr"]["default"] == 0.002


def test_fields_prints_a_table_of_every_setting(capsys):
    assert main(["fields"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["setting", "default", "limits", "meaning"]
    table = lines[:lines.index("")]
    rows = {line.split()[0]: line for line in table[2:] if line[:1].strip()}
    assert list(rows) == list(FIELDS) and len(table) < 5 * len(FIELDS)
    glossary = " ".join(line.strip() for line in lines[len(table):])  # then what the settings mean, as the form says
    for name in ("optimizer", "init", "batch_norm", "dropout", "lr_schedule"):
        assert f"{name} ({FIELDS[name]['label']}): {FIELDS[name]['glossary']}" in glossary
    assert rows["lr"].split()[1:8] == ["0.01", "(mnist:", "0.002)", "1e-06", "to", "10", "Learning"]
    assert rows["batch_norm"].split()[1:5] == ["off", "on", "or", "off"]


def test_fields_of_one_task_shows_its_defaults_only(capsys):
    assert main(["fields", "--task", "mnist"]) == 0
    out = capsys.readouterr().out.split("\n\n")[0]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line[:1].strip()}
    assert list(rows) == [name for name, spec in FIELDS.items() if "mnist" in spec["tasks"]]
    assert rows["lr"][1:5] == ["0.002", "1e-06", "to", "10"]
    assert rows["n_samples"][1:5] == ["50000", "1000", "to", "50000"]


def test_fields_into_a_pipe_nobody_reads_exits_without_a_traceback():
    read, write = os.pipe()
    os.close(read)  # as `bpnet fields | head -1` is once head has exited
    try:
        proc = subprocess.run([sys.executable, "-m", "bpnet", "fields"], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == ""


def test_a_comparison_whose_reader_left_early_trains_on_and_saves_every_run(tmp_path):
    read, write = os.pipe()
    os.close(read)  # as `bpnet compare activation --save-history cmp.csv | head -1` is once head has exited
    try:
        proc = subprocess.run([sys.executable, "-m", "bpnet", "compare", "activation", "--epochs", "3",
                               "--save-history", str(tmp_path / "cmp.csv")], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    finally:
        os.close(write)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    runs = {row["run"] for row in csv.DictReader((tmp_path / "cmp.csv").read_text().splitlines())}
    assert runs == {label for label, _ in COMPARISONS["activation"]["variants"]}


def number(v):
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@pytest.mark.parametrize("command", ["train", "compare"])
def test_help_shows_each_settings_default_and_limits(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    full = " ".join(capsys.readouterr().out.split())
    text = full[full.index("options:"):]
    flags = ["--" + name.replace("_", "-") for name in FIELDS]
    task = "mnist" if command == "compare" else "function"
    at = {flag: re.search(re.escape(flag) + "[ ,]", text).start() for flag in flags + ["--save-model"]}
    for name, flag, after in zip(FIELDS, flags, flags[1:] + ["--save-model"]):
        help_text = text[at[flag]:at[after]]
        spec = field_spec(name, task) if task in FIELDS[name]["tasks"] else FIELDS[name]
        if spec["kind"] in ("int", "float"):
            assert f"limits: {number(spec['min'])} to {number(spec['max'])}" in help_text
        if spec["kind"] == "choice":
            assert "one of: " + ", ".join(spec["choices"]) in help_text
        default = BASE[name] if command == "compare" and name in BASE else spec["default"]  # (a comparison may suggest others)
        if spec["kind"] in ("int", "float"):
            assert f"default: {number(default)}" in help_text
        elif spec["kind"] == "int_list":
            assert f"default: {','.join(map(str, default))}" in help_text
    if command == "train":
        assert "default: 0.01 (mnist: 0.002)" in text and "limits: 10 to 20000 (mnist: 1000 to 50000)" in text
    else:
        assert "default: 10000" in text and "activation also sets --hidden 128,128,128,128" in full


def one_line_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_missing_value_is_one_line_of_error(capsys):
    line = one_line_usage_error(["train", "--lr"], capsys)
    assert line == "bpnet train: error: argument --lr: expected one argument (see bpnet train --help)"
    assert "--epochs" in one_line_usage_error(["train", "--epochs", "--quiet"], capsys)
    assert "unrecognized arguments: --learning-rate" in one_line_usage_error(["train", "--learning-rate", "1"], capsys)
    assert "required" in one_line_usage_error([], capsys)


def test_an_empty_hidden_is_refused_and_none_means_no_hidden_layer(tmp_path, capsys):
    assert main(["train", *TINY_FLAGS, "--hidden", ""]) == 2
    assert capsys.readouterr().err == "error: hidden: empty; give a list such as 64,64, or 'none' for no layers\n"
    model = tmp_path / "linear.npz"
    assert main(["train", *TINY_FLAGS, "--hidden", "none", "--save-model", str(model)]) == 0
    assert "note: no hidden layer: the inputs feed the output layer directly" in capsys.readouterr().out
    assert sorted(np.load(model)) == ["0.bias", "0.weight"]  # one Linear(1, 1)


@pytest.mark.parametrize("flags, message", [
    (["--save-model", "{tmp}/nodir/fit.npz"], "error: --save-model: directory {tmp}/nodir does not exist"),
    (["--save-history", "{tmp}/nodir/h.csv"], "error: --save-history: directory {tmp}/nodir does not exist"),
    (["--save-history", "{tmp}"], "error: --save-history: {tmp} is a directory"),
    (["--save-history", "{tmp}/h.txt"], "error: --save-history: h.txt must end in .json or .csv"),
    (["--save-model", "{tmp}/a.npz", "--save-history", "{tmp}/a.npz"],
     "error: --save-history: a.npz must end in .json or .csv"),
    (["--save-model", "{tmp}/same.json", "--save-history", "{tmp}/same.json"],
     "error: --save-history: is the same file as --save-model"),
    (["--save-model", "{tmp}/file.npz/fit.npz"], "error: --save-model: {tmp}/file.npz is not a directory"),
], ids=["model dir", "history dir", "a directory", "suffix", "npz history", "same file", "file as dir"])
def test_output_paths_are_checked_before_training(tmp_path, capsys, monkeypatch, flags, message):
    (tmp_path / "file.npz").write_bytes(b"")
    monkeypatch.setattr("bpnet.cli.Job", None)  # nothing may be built, let alone trained
    argv = [f.format(tmp=tmp_path) for f in flags]
    assert main(["train", *TINY_FLAGS, *argv]) == 2
    out = capsys.readouterr()
    assert out.err == message.format(tmp=tmp_path) + "\n" and out.out == ""


def test_an_unwritable_directory_is_refused_before_training(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr("bpnet.cli.files.Path.open", lambda *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")))  # as a user without write permission sees it (tests run as root)
    assert main(["compare", "activation", *TINY_FLAGS, "--save-model", str(locked / "m.npz")]) == 2
    assert capsys.readouterr().err == f"error: --save-model: cannot write in {locked}: Permission denied\n"
    assert list(locked.iterdir()) == []


def test_python_dash_m_bpnet_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bpnet", "train", *TINY_FLAGS, "--epochs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "job finished" in proc.stdout


# --- MNIST's evaluation lines ---------------------------------------------------------------------
# 1000 images: 7 full batches of 128 per epoch; the subset is evaluated at steps 3, 6, 9 and 12
MNIST_FLAGS = ["--task", "mnist", "--n-samples", "1000", "--hidden", "8", "--epochs", "2", "--eval-every", "3",
               "--val-subset", "100", "--batch-size", "128"]


def evaluation_lines(out):
    return [line for line in out.splitlines() if "val loss" in line]


def test_mnist_prints_the_full_validation_once_per_epoch(capsys):
    assert main(["train", *MNIST_FLAGS, "--quiet"]) == 0
    lines = evaluation_lines(capsys.readouterr().out)
    assert [line.split()[:2] + line.split()[-3:] for line in lines] == [
        ["step", "7", "(epoch", "1,", "full)"], ["step", "14", "(epoch", "2,", "full)"]]


def test_mnist_verbose_prints_every_evaluation(capsys):
    assert main(["train", *MNIST_FLAGS, "--quiet", "--verbose"]) == 0
    lines = evaluation_lines(capsys.readouterr().out)
    assert [int(line.split()[1]) for line in lines] == [3, 6, 7, 9, 12, 14]
    assert [line.endswith("(subset)") for line in lines] == [True, True, False, True, True, False]


def test_evaluation_lines_are_written_through_the_progress_bar():
    screen = io.StringIO()  # a terminal shows the bar (stderr) and the lines (stdout) on one screen
    with contextlib.redirect_stdout(screen), contextlib.redirect_stderr(screen):
        assert main(["train", *MNIST_FLAGS, "--verbose"]) == 0
    text = screen.getvalue()
    starts = [m.start() for m in re.finditer(r"step +\d+  val loss", text)]
    assert len(starts) == 6 and "%|" in text  # the bar was drawn
    assert all(text[i - 1] in "\r\n" for i in starts)  # each line starts where tqdm cleared the bar, never after it


def test_compare_evaluation_lines_name_their_variant(capsys):
    # (the batch size pinned: the preset's own, 32, would give 11 evaluations per variant, not 3)
    assert main(["compare", "activation", *MNIST_FLAGS, "--epochs", "1", "--batch-size", "128", "--quiet", "--verbose"]) == 0
    lines = evaluation_lines(capsys.readouterr().out)
    assert sorted(line.split()[0] for line in lines) == ["[ReLU]"] * 3 + ["[sigmoid]"] * 3 + ["[tanh]"] * 3


# --- Ctrl-C while the files are being saved -------------------------------------------------------
# the CLI in a subprocess whose os.replace, about to rename the file named by argv[1] (its content written under a
# temporary name by then), prints that file's size and is interrupted there as Ctrl-C interrupts Python: by a
# KeyboardInterrupt at that point (raised in place: a signal sent from outside may arrive anywhere, or not at all
# in a process whose parent ignores SIGINT)
INTERRUPT_BEFORE_RENAME = """
import os, sys
real_replace = os.replace
def replace(src, dst):
    if os.path.basename(dst) == sys.argv[1]:
        print("renaming", src, os.path.getsize(src), flush=True)
        raise KeyboardInterrupt
    real_replace(src, dst)
os.replace = replace
from bpnet.cli import main
sys.exit(main(sys.argv[2:]))
"""


def interrupt_while_saving(tmp_path, name, *flags):
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_BEFORE_RENAME, name, "train", *TINY_FLAGS, *flags],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    marker = next((line for line in proc.stdout.splitlines() if line.startswith("renaming")), None)
    assert marker is not None, proc.stderr  # (the process ended without reaching the rename)
    assert int(marker.split()[2]) > 0  # the whole file was written, under its temporary name
    return proc.returncode, proc.stderr


def test_ctrl_c_while_saving_leaves_no_traceback_and_no_half_written_file(tmp_path):
    code, err = interrupt_while_saving(tmp_path, "fit.csv", "--save-model", "fit.npz", "--save-history", "fit.csv")
    assert code == 130 and "Traceback" not in err
    assert err.splitlines()[-1] == "interrupted: fit.csv not written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.npz"]  # no temporary file left behind
    assert np.load(tmp_path / "fit.npz")["0.weight"].shape == (6, 1)  # the file saved before is whole


def test_ctrl_c_while_saving_keeps_the_file_it_would_have_replaced(tmp_path):
    (tmp_path / "fit.npz").write_bytes(b"an earlier model")
    code, err = interrupt_while_saving(tmp_path, "fit.npz", "--save-model", "fit.npz", "--save-history", "fit.json")
    assert code == 130 and "Traceback" not in err and "interrupted: fit.npz not written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.npz"]  # and the history after it is not begun
    assert (tmp_path / "fit.npz").read_bytes() == b"an earlier model"


def test_ctrl_c_while_training_stops_and_saves_what_was_trained(tmp_path):
    # 20000 steps at most 1000 a second: still training when the signal comes, on any machine
    proc = subprocess.Popen([sys.executable, "-m", "bpnet", "train", *TINY_FLAGS[:-3], "--epochs", "5000", "--pace",
                             "1000", "--save-history", "h.json"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        bar = b""
        while not re.search(rb"\| *[1-9]\d*/20000 ", bar):  # the progress bar has counted trained steps
            chunk = proc.stderr.read1(4096)
            assert chunk, bar.decode()
            bar += chunk
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and b"Traceback" not in err
    assert b"job stopped" in out and b"history saved to h.json" in out
    steps = json.loads((tmp_path / "h.json").read_text())["runs"][0]["steps"]["step"]
    assert 0 < len(steps) < 20000 and steps == list(range(1, len(steps) + 1))
