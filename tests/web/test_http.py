"""The HTTP side: pages, downloads, schema, health, vendored JavaScript, and errors without tracebacks."""
import csv
import io
import json
import logging

import numpy as np
import pytest

from bpnet.engine.config import TASKS
from bpnet.engine.trainer import Trainer
from support import fast_config

PAGES = ["/", "/function", "/surface", "/classification", "/mnist", "/compare", "/backprop", "/backprop?task=function",
         "/backprop?task=surface"]


def no_tracebacks(caplog):
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def strict_json(data):
    return json.loads(data, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


@pytest.fixture
def finished_job(manager):
    """A finished 20-step function job, started straight through the manager."""
    job = manager.start("someone", config=fast_config())
    assert job.wait(20) and job.state == "finished"
    return job


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(http, path, caplog):
    resp = http.get(path)
    assert resp.status_code == 200, resp.data[:500]
    assert resp.mimetype == "text/html"
    assert b"Traceback" not in resp.data
    no_tracebacks(caplog)


def test_pages_set_the_session_cookie(http):
    http.get("/")
    cookie = http.get_cookie("session")
    assert cookie is not None and cookie.http_only


def test_watch_page_of_a_job(http, finished_job):
    resp = http.get(f"/watch/{finished_job.id}")
    assert resp.status_code == 200
    assert finished_job.id.encode() in resp.data


def test_a_watch_link_opens_the_step_by_step_page_on_request_and_names_a_wrong_view(http, finished_job):
    resp = http.get(f"/watch/{finished_job.id}?view=backprop")
    assert resp.status_code == 200 and b"Backprop step by step</h1>" in resp.data and finished_job.id.encode() in resp.data
    resp = http.get(f"/watch/{finished_job.id}?view=xray")
    assert resp.status_code == 400 and b"view must be &#39;backprop&#39;" in resp.data and b"Traceback" not in resp.data


@pytest.mark.parametrize("path", ["/watch/no-such-job", "/no/such/page", "/function/extra", "/jobs"])
def test_unknown_pages_are_404_pages_without_traceback(http, path, caplog):
    resp = http.get(path)
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert b"Traceback" not in resp.data and b"Internal Server Error" not in resp.data
    no_tracebacks(caplog)


@pytest.mark.parametrize("path", ["/jobs/nope/history.json", "/jobs/nope/history.csv", "/jobs/nope/model.npz",
                                  "/api/nope"])
def test_unknown_api_urls_are_json_404(http, path, caplog):
    resp = http.get(path)
    assert resp.status_code == 404 and resp.is_json
    assert resp.get_json()["message"]
    no_tracebacks(caplog)


def test_wrong_method_is_refused(http):
    assert http.post("/").status_code == 405
    assert http.post("/healthz").status_code == 405


# --- downloads ------------------------------------------------------------------------------------
def test_history_json_download(http, finished_job):
    resp = http.get(f"/jobs/{finished_job.id}/history.json")
    assert resp.status_code == 200 and resp.is_json
    assert "attachment" in resp.headers["Content-Disposition"]
    data = strict_json(resp.data)
    assert data["job_id"] == finished_job.id and data["state"] == "finished"
    run = data["runs"][0]
    assert run["steps"]["step"] == list(range(1, 21))
    assert len(run["steps"]["loss"]) == 20 and run["final"]["steps"] == 20


def test_history_csv_download(http, finished_job):
    resp = http.get(f"/jobs/{finished_job.id}/history.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["step", "epoch", "loss", "val_loss", "val_acc", "lr"]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 21))
    assert all(float(r[2]) >= 0 and float(r[5]) == pytest.approx(0.01) for r in rows[1:])
    assert http.get(f"/jobs/{finished_job.id}/history.csv?run=0").data == resp.data


def test_model_npz_download_loads_into_an_engine_model(http, finished_job):
    resp = http.get(f"/jobs/{finished_job.id}/model.npz")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    with np.load(io.BytesIO(resp.data)) as npz:
        state = {k: npz[k] for k in npz.files}
    trained = finished_job.trainers[0].model
    assert set(state) == set(trained.state_dict())
    fresh = Trainer(finished_job.config)  # an engine-built model of the same config, before training
    x = finished_job.trainers[0].task.x_val
    assert not np.allclose(fresh.model(x), finished_job.predict(x))
    fresh.model.load_state_dict(state)
    fresh.model.eval()
    assert np.allclose(fresh.model(x), finished_job.predict(x), atol=1e-6)


@pytest.mark.parametrize("run", ["bad", "1", "-1", "", "0x0", "99999999999999999999", "%00", "%C2%B2", "%D9%A3",
                                 "9" * 5000])
@pytest.mark.parametrize("what", ["history.csv", "model.npz"])
def test_bad_run_index_is_a_json_400(http, finished_job, what, run, caplog):
    resp = http.get(f"/jobs/{finished_job.id}/{what}?run={run}")
    assert resp.status_code == 400 and resp.is_json
    body = resp.get_json()
    assert "run must be" in body["message"]
    no_tracebacks(caplog)


# --- service endpoints ------------------------------------------------------------------------------
def test_healthz(http, manager):
    resp = http.get("/healthz")
    assert resp.status_code == 200 and resp.is_json
    assert resp.get_json() == {"status": "ok", "running_jobs": 0, "max_running": 2, "waiting": 0}


def test_api_schema(http):
    resp = http.get("/api/schema")
    assert resp.status_code == 200 and resp.is_json
    body = strict_json(resp.data)
    assert set(body["tasks"]) == set(TASKS)
    assert body["tasks"]["function"]["formula"]["kind"] == "str"
    assert body["tasks"]["mnist"]["n_samples"]["min"] == 1000
    assert "dropout" in body["comparisons"]


@pytest.mark.parametrize("name", ["plotly.min.js", "socket.io.min.js"])
def test_vendored_javascript_is_served(http, name):
    resp = http.get(f"/vendor/{name}")
    try:
        assert resp.status_code == 200
        assert resp.mimetype == "text/javascript"
        assert len(resp.data) > 10_000
        assert resp.cache_control.max_age == 86400
    finally:
        resp.close()


# --- headers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PAGES + ["/watch/no-such-job"])
def test_pages_allow_only_their_own_scripts_and_no_framing(http, path):
    resp = http.get(path)
    csp = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/healthz", "/api/schema", "/static/js/common.js", "/jobs/nope/history.json"])
def test_every_answer_forbids_content_sniffing(http, path):
    resp = http.get(path)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp.close()


def test_the_session_cookie_is_same_site(http):
    http.get("/")
    assert http.get_cookie("session").same_site == "Lax"


def test_the_development_server_does_not_announce_its_versions(live_server):
    import urllib.request

    with urllib.request.urlopen(live_server + "/healthz", timeout=10) as resp:
        server = resp.headers.get("Server", "")
    assert not any(c.isdigit() for c in server) and "Python" not in server, server
