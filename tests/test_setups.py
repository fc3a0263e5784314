"""Setups as links: a query string read into settings by the config schema's own validation, and every
parameter it cannot use reported by its label and why; settings written back as a readable link."""
from urllib.parse import parse_qsl, urlsplit

import pytest

from bpnet.engine.config import FIELDS, MAX_STEPS, validate_config
from bpnet.engine.experiments import comparison_defaults
from bpnet.engine.setups import MAX_PARAMS, read_setup, setup_query, setup_url


def read(page, query):
    return read_setup(page, parse_qsl(query, keep_blank_values=True))


def problems(setup):
    return {p["field"]: f"{p['label']}: {p['message']}" for p in setup["problems"]}


def test_a_link_gives_the_settings_as_the_config_takes_them():
    s = read("function", "formula=sin(3*x)&hidden=8,8&lr=0.03&epochs=200&batch_norm=true&pace=25")
    assert s["problems"] == [] and s["given"] and s["task"] == "function"
    assert s["values"] == {"formula": "sin(3*x)", "hidden": [8, 8], "lr": 0.03, "epochs": 200, "batch_norm": True,
                           "pace": 25}
    validate_config({"task": "function", **s["values"]})  # what Start would send is valid
    assert read("function", "")["given"] is False and read("function", "")["values"] == {}


def test_each_bad_value_is_named_by_its_label_with_the_schemas_reason_and_left_at_its_default():
    s = read("function", "lr=abc&epochs=0&hidden=8,x&optimizer=rocket&batch_norm=maybe&formula=sin(x")
    assert problems(s) == {
        "lr": "Learning rate: expected a number, got 'abc'; ignored, so it keeps its default",
        "epochs": "Epochs: must be between 1 and 5000, got 0; ignored, so it keeps its default",
        "hidden": "Hidden layers: expected a whole number, got 'x'; ignored, so it keeps its default",
        "optimizer": "Optimiser: must be one of sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw; got 'rocket'; "
                     "ignored, so it keeps its default",
        "batch_norm": "Batch norm: expected true or false, got 'maybe'; ignored, so it keeps its default",
        "formula": "Formula: unbalanced parenthesis: '(' at column 4 is never closed"}
    assert s["values"] == {"formula": "sin(x"}  # the formula stays in its box, its error under it


def test_unknown_parameters_and_settings_of_another_page_are_reported_too():
    s = read("classification", "foo=1&formula=x^2&lr=0.1&lr=0.2&task=mnist&hide=optimizer,wings,pace&lesson=nope")
    assert problems(s) == {
        "foo": "foo: unknown setting; ignored",
        "formula": "Formula: not a setting of this page; ignored",
        "lr": "Learning rate: given twice: the first value is used",
        "task": "Experiment: not a setting of this page; ignored",
        "hide": "Hidden settings: 'pace' is not a setting of this page; ignored",
        "lesson": "Lesson: there is no lesson called 'nope'; ignored"}
    assert [p["message"] for p in s["problems"] if p["field"] == "hide"] == [
        "'wings' is not a setting of this page; ignored", "'pace' is not a setting of this page; ignored"]
    assert s["values"] == {"lr": 0.1} and s["hide"] == ["optimizer"] and s["lesson"] is None


def test_settings_that_clash_are_reported_as_start_would_with_the_links_values_kept():
    s = read("function", "x_min=2&x_max=1")
    assert problems(s) == {"x_max": "x to: must be greater than “x from” (2)"}
    assert s["values"] == {"x_min": 2.0, "x_max": 1.0}
    s = read("function", "n_samples=20000&batch_size=1&epochs=5000")
    assert f"the limit is {MAX_STEPS:,}" in problems(s)["epochs"]


def test_a_hostile_link_is_read_safely():
    s = read("mnist", "&".join(f"p{i}=1" for i in range(500)))
    assert s["problems"][0] == {"field": None, "label": "Link",
                                "message": f"it has 500 parameters; only the first {MAX_PARAMS} are read"}
    assert len(s["problems"]) == MAX_PARAMS + 1
    s = read("function", "x" * 5000 + "=1&lr=" + "9" * 5000 + "&\u0000\u202e=2")
    names = [p["label"] for p in s["problems"]]
    assert all(len(n) <= 40 and n.isprintable() for n in names), names
    assert problems(s)["lr"].startswith("Learning rate: ") and "lr" not in s["values"]
    with pytest.raises(ValueError):
        read("admin", "lr=1")


def test_a_lesson_and_the_settings_it_hides_travel_in_the_link():
    s = read("function", "hidden=2&hide=init,dropout,init&lesson=fitting")
    assert s["problems"] == [] and s["hide"] == ["init", "dropout"]
    assert s["lesson"]["slug"] == "fitting" and s["lesson"]["url"] == "/lessons/fitting" and s["lesson"]["question"]


def test_the_compare_page_reads_its_comparison_and_base_experiment():
    s = read("compare", "comparison=dropout&task=function&lr=0.1&dropout=0.2&n_samples=500")
    assert (s["comparison"], s["task"]) == ("dropout", "function")
    assert s["values"] == {"lr": 0.1, "n_samples": 500}
    assert problems(s) == {"dropout": "Dropout: set per run by this comparison; ignored"}
    s = read("compare", "comparison=haircut&task=surface&formula=x")
    assert (s["comparison"], s["task"]) == ("activation", "mnist")
    assert set(problems(s)) == {"comparison", "task", "formula"}
    assert comparison_defaults("activation", "function")["optimizer"] == "sgd"  # the comparison's own base


def test_a_setup_written_as_a_link_reads_back_to_the_same_settings():
    settings = {"formula": "sin(3*x)/(1+x^2)", "hidden": [8, 8], "lr": 0.03, "batch_norm": True, "x_min": -2.5}
    url = setup_url("function", settings)
    assert url == "/function?formula=sin(3*x)/(1%2Bx%5E2)&hidden=8,8&lr=0.03&batch_norm=true&x_min=-2.5"
    assert read("function", urlsplit(url).query)["values"] == settings
    assert setup_query({}) == "" and setup_url("mnist", {}) == "/mnist"


def test_every_setting_of_every_page_can_be_given_in_a_link():
    from bpnet.engine.config import defaults
    for task in ("function", "surface", "classification", "mnist"):
        config = {k: v for k, v in defaults(task).items() if k not in ("task", "data")}
        s = read(task, urlsplit(setup_url(task, config)).query)
        assert s["problems"] == [] and s["values"] == config, task
        assert set(s["values"]) == {n for n in FIELDS if task in FIELDS[n]["tasks"]} - {"task", "data"}


def test_ones_own_data_is_not_a_setting_of_a_link():
    s = read("function", "data=abc&lr=0.1")
    assert s["values"] == {"lr": 0.1}
    assert s["problems"] == [{"field": "data", "label": "Your own data",
                              "message": "one's own data cannot travel in a link: upload it on the page; ignored"}]
    assert "data" not in setup_url("function", {"lr": 0.1, "data": None})
