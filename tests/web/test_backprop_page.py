"""The step-by-step page (/backprop): one experiment of three, a network small enough to read unit by unit
unless the link asks for another, Step / Step epoch / Rewind beside Start, and a clear refusal of a wrong task."""
import json
import re

import pytest

from bpnet.engine.config import validate_config


def page_data(resp):
    return json.loads(re.search(rb'<script id="bp-data" type="application/json">(.*?)</script>', resp.data, re.S).group(1))


@pytest.mark.parametrize("task", ["classification", "function", "surface"])
def test_each_experiment_starts_from_a_small_network(http, task):
    resp = http.get("/backprop" if task == "classification" else f"/backprop?task={task}")
    assert resp.status_code == 200
    setup = page_data(resp)["setup"]
    assert setup["problems"] == [] and setup["task"] == task
    values = setup["values"]
    assert len(values["hidden"]) <= 3 and max(values["hidden"]) <= 4 and values["batch_size"] == 8
    validate_config({"task": task, **values})  # Start sends a valid config
    html = resp.data.decode()
    for control in ('id="btn-step"', 'id="btn-step-epoch"', 'id="btn-rewind"', 'id="start-paused" checked', 'id="xray" open'):
        assert control in html, control
    assert f'href="/backprop?task={task}" aria-current="page"' in html


def test_the_seed_lesson_is_the_default(http):
    values = page_data(http.get("/backprop"))["setup"]["values"]
    assert (values["dataset"], values["activation"], values["hidden"]) == ("spheres", "sigmoid", [3, 3, 2])


def test_a_links_settings_win_over_the_pages_and_its_mistakes_are_named(http):
    setup = page_data(http.get("/backprop?task=function&hidden=6&lr=abc"))["setup"]
    assert setup["values"]["hidden"] == [6] and setup["values"]["activation"] == "tanh"
    assert [p["field"] for p in setup["problems"]] == ["lr"]


@pytest.mark.parametrize("task", ["mnist", "compare", "x" * 500])
def test_another_task_is_refused_clearly(http, task):
    resp = http.get(f"/backprop?task={task}")
    assert resp.status_code == 400
    assert b"task must be one of classification, function, surface" in resp.data
    assert b"Traceback" not in resp.data and len(resp.data) < 20000


def test_the_experiment_pages_fold_the_xray_and_show_the_step_row_only_while_paused(http):
    for path in ("/function", "/surface", "/classification", "/mnist"):
        html = http.get(path).data.decode()
        assert '<details class="card xray-card wide" id="xray">' in html, path
        assert '<div class="step-buttons" id="step-buttons" hidden>' in html and "start-paused" not in html, path
