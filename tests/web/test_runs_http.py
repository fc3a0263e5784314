"""The table of runs over HTTP: an ended job is added by its table's key (from its own history), listed with the
settings that differ and the seed groups, deduplicated, downloadable as CSV, cleared; kept on disk so that a new
server on the same directory (a restart) has it; bounded; every bad request a clear 4xx."""
import csv
import io
import json
import secrets

import pytest

from support import TIMEOUT, fast_config, long_config
from web import create_app
from web.run_store import RunStore

KEY = "k" * 16  # (the store tests' own directory)


@pytest.fixture
def key():
    """A new table's key (the tests' servers share one directory of tables)."""
    return secrets.token_urlsafe(16)


def ended_job(socket_client, http, **config):
    client = socket_client(session=http)
    ack = client.call("start", {"config": fast_config(**config)})
    assert ack["ok"], ack
    client.wait_state(ack["job_id"], "finished", timeout=TIMEOUT * 3)
    return ack["job_id"]


def add(http, job_id, key):
    return http.post("/api/runs", json={"key": key, "job_id": job_id})


def test_an_ended_job_is_added_from_its_own_history_and_listed(http, socket_client, key):
    a, b = ended_job(socket_client, http), ended_job(socket_client, http, lr=0.05)
    assert add(http, a, key).status_code == 200
    table = add(http, b, key).get_json()
    assert [r["job_id"] for r in table["rows"]] == [a, b] and table["differing"] == [{}, {"lr": 0.05}]
    history = http.get(f"/jobs/{b}/history.json").get_json()["runs"][0]
    assert table["rows"][1]["final"]["val_loss"] == history["final"]["val_loss"]
    assert http.get(f"/api/runs?key={key}").get_json() == table
    assert len(add(http, a, key).get_json()["rows"]) == 2  # added again: replaced, not repeated


def test_the_table_downloads_as_csv_and_clears(http, socket_client, key):
    for lr in (0.01, 0.02):
        add(http, ended_job(socket_client, http, lr=lr), key)
    resp = http.get(f"/api/runs.csv?key={key}")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert [line["lr"] for line in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))] == ["0.01", "0.02"]
    assert http.post("/api/runs/clear", json={"key": key}).get_json()["rows"] == []


def test_a_new_server_on_the_same_directory_has_the_table(http, socket_client, settings, key):
    job = ended_job(socket_client, http)
    rows = add(http, job, key).get_json()["rows"]
    restarted = create_app(dict(settings)).test_client()  # a restart: nothing in memory, the same RUNS_DIR
    assert restarted.get(f"/api/runs?key={key}").get_json()["rows"] == rows


def test_a_running_job_is_refused_until_it_has_ended(http, socket_client, key):
    client = socket_client(session=http)
    ack = client.call("start", {"config": long_config()})
    resp = add(http, ack["job_id"], key)
    assert resp.status_code == 409 and "has not ended yet" in resp.get_json()["message"]
    client.call("stop", {"job_id": ack["job_id"]})


@pytest.mark.parametrize("body, status, said", [
    ({"key": "short", "job_id": "x"}, 400, "key must be the table's key"),
    ({"key": "../" * 8, "job_id": "x"}, 400, "key must be the table's key"),
    ({"key": KEY}, 400, "job_id must be a job id string"),
    ({"key": KEY, "job_id": "nope"}, 404, "No such job"),
    ("not an object", 400, "key must be the table's key"),
])
def test_bad_requests_are_refused_clearly(http, body, status, said):
    resp = http.post("/api/runs", data=json.dumps(body), content_type="application/json")
    assert resp.status_code == status and said in resp.get_json()["message"]


def test_a_table_keeps_its_latest_runs_and_the_store_its_latest_tables(tmp_path):
    store = RunStore(tmp_path, keep=3, tables=2)
    for i in range(5):
        store.add(KEY, [{"job_id": f"j{i}", "run": 0}])
    assert [r["job_id"] for r in store.rows(KEY)] == ["j2", "j3", "j4"]
    store.add("b" * 16, [{"job_id": "x", "run": 0}])
    store.add("c" * 16, [{"job_id": "y", "run": 0}])
    assert len(list(tmp_path.glob("*.json"))) == 2 and not list(tmp_path.glob(".table-*"))
    (tmp_path / ("d" * 16 + ".json")).write_text("{half a table")
    assert store.rows("d" * 16) == []  # unreadable: an empty table, not an error
