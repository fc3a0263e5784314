"""Your own data: a CSV file read for each task, every malformed file refused with a message saying what and
where, fuzzed (any bytes: a dataset or a DataError, never anything else), and a job trained on the points."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bpnet.data import holdout_size
from bpnet.engine import user_data
from bpnet.engine.config import MAX_DATA_BYTES, ConfigError, field_spec, validate_config
from bpnet.engine.job import Job
from bpnet.engine.user_data import DataError, parse_csv

TASKS = ("function", "surface", "classification")


def parse(text, task="function", name="t.csv"):
    return parse_csv(text, task, field_spec("data", task), name)


def problem(text, task="function"):
    with pytest.raises(DataError) as info:
        parse(text, task)
    return str(info.value)


def table(rows, header=None, sep=","):
    return "\n".join(([sep.join(header)] if header else []) + [sep.join(map(str, r)) for r in rows]) + "\n"


LINE = [[i / 10, (i / 10) ** 2] for i in range(20)]
PLANE = [[i % 5, i // 5, i * 0.5] for i in range(20)]
POINTS = [[i / 10, -i / 7, "cat" if i % 3 else "dog"] for i in range(20)]


def test_a_file_with_a_header_is_read_for_each_task():
    assert parse(table(LINE, ["x", "y"]))["values"] == LINE
    assert parse(table(PLANE, ["x", "y", "z"]), "surface")["values"] == [[float(v) for v in r] for r in PLANE]
    data = parse(table(POINTS, ["x1", "x2", "label"]), "classification")
    assert data["classes"] == ["cat", "dog"]
    assert [r[2] for r in data["values"]] == [1 if r[2] == "dog" else 0 for r in POINTS]


def test_the_header_is_optional_and_its_columns_may_come_in_any_order():
    assert parse(table(LINE))["values"] == LINE
    assert parse(table([[y, x] for x, y in LINE], ["Y", "X"]))["values"] == LINE
    other = parse(table(LINE, ["time", "height"]))  # other names: read by position, and said so
    assert other["values"] == LINE and "read as x, y" in other["note"]


@pytest.mark.parametrize("sep", [",", ";", "\t", " "])
def test_commas_semicolons_tabs_or_spaces_separate_values(sep):
    assert parse(table(LINE, ["x", "y"], sep))["values"] == LINE


def test_blank_lines_comments_a_byte_order_mark_and_crlf_are_fine():
    text = "\ufeff# measured on Monday\r\nx,y\r\n\r\n" + table(LINE).replace("\n", "\r\n")
    assert parse(text.encode())["values"] == LINE


def test_labels_may_be_numbers_of_any_two_values():
    rows = [[i, i % 4, -1 if i % 2 else 1] for i in range(20)]
    data = parse(table(rows), "classification")
    assert data["classes"] == ["-1", "1"] and [r[2] for r in data["values"]] == [0 if i % 2 else 1 for i in range(20)]
    assert parse(table([[i, i, f"{i % 2}.0"] for i in range(20)]), "classification")["classes"] == ["0", "1"]


BAD = [
    ("function", "", "the file is empty"),
    ("function", "  \n\n", "the file is empty"),
    ("function", "x,y\n", "a header but no rows"),
    ("function", table(LINE[:3], ["x", "y"]), "only 3 rows; at least 10"),
    ("function", table(LINE, ["a", "b", "c"]), "the header has 3 columns (a, b, c); this page needs 2: x, y"),
    ("function", table([r + [1] for r in LINE]), "line 1 has 3 values; expected 2 (x, y)"),
    ("surface", table(LINE), "line 1 has 2 values; expected 3 (x, y, z)"),
    ("function", table(LINE[:5] + [[1, "abc"]] + LINE[5:]), "line 6, column y: 'abc' is not a number"),
    ("function", table(LINE[:5] + [[1, "nan"]] + LINE[5:]), "line 6, column y: 'nan' is not a finite number"),
    ("function", table(LINE[:5] + [["-inf", 1]] + LINE[5:]), "line 6, column x: '-inf' is not a finite number"),
    ("function", table(LINE[:5] + [[1, ""]] + LINE[5:]), "line 6, column y: empty"),
    ("function", table(LINE[:5] + [[1, "1e999"]] + LINE[5:]), "'1e999' is too large"),
    ("function", table(LINE[:5] + [[1, "1e12"]] + LINE[5:]), "row 6, column y: 1e+12 is too large to train on"),
    ("function", "x;y\n" + "1,5;2\n" * 12, "use a point as the decimal separator"),
    ("function", table([[1, i] for i in range(20)]), "every x is 1: a fit needs at least two different values of x"),
    ("classification", table([[i, i, 0] for i in range(20)]), "every point is of one class (0)"),
    ("classification", table([[i, i, i % 3] for i in range(20)]), "found 3 classes (0, 1, 2); this page classifies two"),
    ("classification", table([[i, i, ""] for i in range(20)]), "line 1: the label is empty"),
    ("function", b"\xff\xfe\x00x", "not a text (UTF-8) file"),
    ("function", "x,y\n1,\x002\n", "NUL bytes"),
    ("function", "x,y\n" + "1,2\n" * 20001, "more than 20,000 rows; the limit is 20,000"),
    ("function", "1,2\n" * (MAX_DATA_BYTES // 4 + 1), "the limit is 1.0 MB"),
]


@pytest.mark.parametrize("task, text, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_every_malformed_file_gets_a_clear_message(task, text, message):
    assert message in problem(text, task)


def test_many_bad_lines_are_named_a_few_at_a_time():
    text = table([[i, "x"] for i in range(30)])
    said = problem(text)
    assert said.startswith("line 1, column y") and "line 3, column y" in said and "and 27 more lines" in said


def test_the_config_schema_names_the_field_and_reads_a_file_like_the_upload():
    with pytest.raises(ConfigError) as info:
        validate_config({"task": "function", "data": {"csv": "x,y\n1,2\n"}})
    assert info.value.errors == {"data": "only 1 row; at least 10 are needed (some are held out for validation)"}
    with pytest.raises(ConfigError) as info:
        validate_config({"task": "function", "data": "0123abcd"})
    assert "uploaded on its page" in info.value.errors["data"]
    assert "data" not in validate_config({"task": "mnist", "data": {"csv": table(LINE)}})  # not an MNIST setting


HOSTILE = [
    [], "x", 3, {"values": "1,2"}, {"values": [[1, 2]] * 5}, {"values": [[1, True]] * 20},
    {"values": [[1, float("nan")]] * 20}, {"values": [[1, 2, 3]] * 20}, {"values": [[1, [2]]] * 20},
    {"values": [[i, 2] for i in range(20)], "extra": 1}, {"values": [[1, 2]] * 20001},
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_data_sent_as_points_is_checked_like_a_file(value):
    with pytest.raises(ConfigError) as info:
        validate_config({"task": "function", "data": value})
    assert list(info.value.errors) == ["data"] and "Traceback" not in info.value.errors["data"]


@pytest.mark.parametrize("value", [
    {"values": [[i, i, 2] for i in range(20)], "classes": ["a", "b"]},
    {"values": [[i, i, i % 2] for i in range(20)], "classes": ["a", "a"]},
    {"values": [[i, i, i % 2] for i in range(20)], "classes": "ab"},
    {"values": [[i, i, 0.5] for i in range(20)]},
])
def test_class_labels_sent_as_points_are_checked(value):
    with pytest.raises(ConfigError):
        validate_config({"task": "classification", "data": value})


def test_data_sets_the_samples_and_the_domain_and_adds_no_noise():
    c = validate_config({"task": "function", "data": {"csv": table(LINE), "name": "l.csv"}, "noise": 3, "x_min": -9})
    assert (c["n_samples"], c["x_min"], c["x_max"], c["noise"]) == (20, 0.0, 1.9, 0.0)
    assert validate_config(c) == c  # checked again (a worker, an archive): the same config


# --- fuzzing --------------------------------------------------------------------------------------
def _valid(data, task):
    names = user_data.COLUMNS[task]
    spec = field_spec("data", task)
    assert spec["min"] <= len(data["values"]) <= spec["max"]
    assert all(len(r) == len(names) and all(math.isfinite(v) for v in r) for r in data["values"])
    assert user_data.check(data, task, spec)["values"] == data["values"]


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(TASKS), st.binary(max_size=400))
def test_any_bytes_give_data_or_a_data_error(task, blob):
    try:
        data = parse(blob, task)
    except DataError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    else:
        _valid(data, task)


CELL = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 5).map(str),
                 st.sampled_from(["", "nan", "abc", "1,5", "1e400", " 2 ", "0x1", "1_000", "٣", '"3"', "#"]))


@FUZZ
@given(st.sampled_from(TASKS), st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=30),
       st.sampled_from([",", ";", "\t"]), st.booleans())
def test_tables_with_any_cells_give_data_or_a_message_naming_a_line(task, rows, sep, header):
    names = list(user_data.COLUMNS[task])
    text = table(rows, names if header else None, sep)
    try:
        data = parse(text, task)
    except DataError as exc:
        message = str(exc)
        assert message.startswith(("line ", "row ", "only ", "the file", "every ", "found ", "the header")), message
    else:
        _valid(data, task)


# --- training on it -------------------------------------------------------------------------------
def _job(task, rows, **config):
    job = Job({"task": task, "data": {"csv": table(rows), "name": "mine.csv"}, "epochs": 3, **config})
    events = []
    job.subscribe(events.append)
    job.start()
    assert job.wait(60) and job.state == "finished", job.message
    return job, next(e for e in events if e["type"] == "dataset")


def test_a_fit_trains_on_the_points_split_as_generated_data_is():
    rng = np.random.default_rng(1)
    rows = [[float(x), float(np.sin(x))] for x in sorted(rng.uniform(-3, 3, 50))]  # sorted: the split shuffles
    job, ev = _job("function", rows, val_fraction=0.2, seed=4)
    n_val = holdout_size(50, 0.2)
    assert len(ev["x_val"]) == n_val and len(ev["x_train"]) == 50 - n_val
    shown = sorted(zip(ev["x_train"] + ev["x_val"], ev["y_train"] + ev["y_val"]))
    assert np.allclose(shown, rows, atol=1e-6)  # every point once, as float32
    assert max(ev["x_val"]) - min(ev["x_val"]) > 3  # not one end of a sorted file
    assert ev["y_grid"] is None and ev["baseline"]["floor"] is None
    assert ev["config"]["data"] == {**ev["config"]["data"], "name": "mine.csv", "rows": 50}  # a summary, no points
    assert "values" not in ev["config"]["data"]
    assert job.history()["runs"][0]["final"]["val_loss"] is not None


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    a = _job("classification", POINTS, seed=1)[1]
    b = _job("classification", POINTS, seed=1)[1]
    c = _job("classification", POINTS, seed=2)[1]
    assert a["points"] == b["points"] and a["points"] != c["points"]
    assert sorted(map(tuple, a["points"])) == sorted((r[0], r[1]) for r in POINTS)


def test_a_surface_shows_the_error_at_the_points():
    job, ev = _job("surface", PLANE)
    assert ev["z_true"] is None and len(ev["train_points"]) == 20 - holdout_size(20, 0.2)
    snap = job.history()["runs"][0]["snapshot"]
    assert len(snap["z_points"]) == len(ev["train_points"]) and len(snap["z_pred"]) == len(ev["ys"])


def test_the_command_line_reads_a_file(tmp_path, capsys):
    from bpnet.cli import main
    path = tmp_path / "mine.csv"
    path.write_text(table(LINE, ["x", "y"]))
    assert main(["train", "--task", "function", "--data", str(path), "--epochs", "2", "--quiet"]) in (0, None)
    path.write_text("x,y\n1,2\n")
    assert main(["train", "--task", "function", "--data", str(path), "--epochs", "2", "--quiet"]) not in (0, None)
    assert "data: only 1 row; at least 10 are needed" in capsys.readouterr().err


def test_an_ended_jobs_archive_keeps_the_points_once_in_its_history_and_still_predicts():
    from bpnet.engine.archive import JobArchive
    job, ev = _job("classification", POINTS)
    archive = JobArchive.from_bytes(JobArchive.from_job(job).to_bytes())
    assert "values" not in archive.configs[0]["data"] and archive.configs[0]["data"]["rows"] == 20
    assert np.allclose(archive.predict([[0.5, -0.5]]), job.predict([[0.5, -0.5]]))
