"""The table of runs from jobs' own histories: one row per run with settings, final and best metrics, duration and
thinned curves; the settings that differ from a baseline; runs equal but for the seed grouped with their mean and
spread; the CSV."""
import csv
import io
import statistics

from bpnet.engine import run_table
from bpnet.engine.job import Job
from support import fast_config


def ended(*configs):
    job = Job(runs=[(f"run {i}", c) for i, c in enumerate(configs)])
    job.start()
    assert job.wait(60) and job.state == "finished", job.message
    return job.history()


def test_a_row_per_run_with_the_numbers_the_job_computed():
    history = ended(fast_config(), fast_config(task="classification", n_samples=60, epochs=3))
    rows = run_table.rows_of(history, started=1.0, finished=2.0)
    assert [(r["job_id"], r["run"], r["task"]) for r in rows] == [(history["job_id"], 0, "function"),
                                                                  (history["job_id"], 1, "classification")]
    for row, run in zip(rows, history["runs"]):
        assert row["final"]["val_loss"] == run["final"]["val_loss"] and row["seconds"] == run["final"]["seconds"]
        assert row["best"]["val_loss"] == min(run["steps"]["val_loss"])
        assert row["curves"]["step"] == run["steps"]["step"] and "pace" not in row["settings"]
    assert rows[1]["best"]["val_acc"] == max(history["runs"][1]["steps"]["val_acc"])


def test_long_curves_are_thinned_to_a_fixed_number_of_points():
    history = ended(fast_config(epochs=120))  # 480 steps
    curves = run_table.rows_of(history)[0]["curves"]
    assert len(curves["step"]) == run_table.CURVE_POINTS and curves["step"][0] == 1 and curves["step"][-1] == 480


def test_the_settings_that_differ_from_the_baseline():
    rows = run_table.rows_of(ended(fast_config(), fast_config(lr=0.05), fast_config(lr=0.05, hidden=[8])))
    assert run_table.differing(rows) == [{}, {"lr": 0.05}, {"lr": 0.05, "hidden": [8]}]
    assert run_table.differing(rows, baseline=1) == [{"lr": 0.01}, {}, {"hidden": [8]}]  # each row's own value


def test_runs_equal_but_for_the_seed_are_grouped_with_mean_and_spread():
    rows = run_table.rows_of(ended(*(fast_config(seed=s) for s in range(3)), fast_config(lr=0.05)))
    [group] = run_table.seed_groups(rows)
    assert group["rows"] == [0, 1, 2] and group["seeds"] == [0, 1, 2] and group["n"] == 3
    losses = [rows[i]["final"]["val_loss"] for i in range(3)]
    assert group["mean"]["val_loss"] == statistics.fmean(losses)
    assert group["std"]["val_loss"] == statistics.stdev(losses) > 0


def test_the_csv_has_a_line_per_run_with_what_differs():
    rows = run_table.rows_of(ended(fast_config(), fast_config(lr=0.05)))
    lines = list(csv.DictReader(io.StringIO(run_table.to_csv(rows))))
    assert [line["lr"] for line in lines] == ["0.01", "0.05"]
    assert [float(line["val_loss"]) for line in lines] == [r["final"]["val_loss"] for r in rows]
    assert "formula" not in lines[0]  # the same in every run
