"""`python -m bpnet`: headless training with final metrics, model and history files; comparisons; the schema."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpnet.cli import main
from bpnet.engine.config import TASKS, validate_config
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


def test_compare_rejects_an_unknown_comparison(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "haircut", "--quiet"])
    assert info.value.code == 2


def test_fields_prints_the_schema_as_json(capsys):
    assert main(["fields"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema) == set(TASKS)
    assert schema["function"]["lr"]["min"] == 1e-6 and schema["mnist"]["epochs"]["max"] == 100


def test_python_dash_m_bpnet_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bpnet", "train", *TINY_FLAGS, "--epochs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "job finished" in proc.stdout
