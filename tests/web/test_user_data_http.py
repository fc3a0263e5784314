"""Your own data over HTTP and Socket.IO: POST /api/data previews a CSV and keeps it (under its digest) for the
Start that names it; every malformed or oversized upload is a 4xx with the reason; the run trains on exactly those
points, which its watchers see; the upload store forgets in time."""
import pytest

from bpnet.data import holdout_size
from bpnet.engine.config import MAX_DATA_BYTES
from support import TIMEOUT, fast_config
from web.uploads import UploadStore

LINE = "x,y\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(30))
POINTS = "x1,x2,label\n" + "".join(f"{i % 6},{i // 6},{'dog' if i % 2 else 'cat'}\n" for i in range(30))


def upload(http, text, task="function", **params):
    return http.post("/api/data", data=text, query_string={"task": task, **params},
                     headers={"Content-Type": "text/csv"})


@pytest.fixture
def preview(http):
    resp = upload(http, LINE, name="squares.csv", val_fraction="0.3")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["preview"]


def test_the_preview_shows_rows_ranges_split_and_first_rows(preview):
    assert (preview["name"], preview["rows"], preview["columns"]) == ("squares.csv", 30, ["x", "y"])
    assert preview["validation"] == holdout_size(30, 0.3) and preview["training"] == 30 - holdout_size(30, 0.3)
    assert preview["ranges"] == {"x": [0.0, 2.9], "y": [0.0, pytest.approx(8.41)]}
    assert preview["head"][:2] == [[0.0, 0.0], [0.1, pytest.approx(0.01)]] and len(preview["digest"]) == 16


def test_classes_are_counted(http):
    p = upload(http, POINTS, "classification").get_json()["preview"]
    assert p["classes"] == ["cat", "dog"] and p["counts"] == [15, 15]


@pytest.mark.parametrize("text, task, status, message", [
    ("", "function", 400, "the file is empty"),
    ("x,y\n1,2\n", "function", 400, "only 1 row"),
    (LINE, "surface", 400, "the header has 2 columns (x, y); this page needs 3: x, y, z"),
    (LINE[4:], "surface", 400, "line 1 has 2 values; expected 3 (x, y, z)"),
    (LINE.replace("0.5,", "abc,"), "function", 400, "column x: 'abc' is not a number"),
    (LINE, "mnist", 400, "one's own data is for function, surface, classification"),
    (LINE, "", 400, "one's own data is for"),
    ("1,2\n" * (MAX_DATA_BYTES // 4 + 1), "function", 413, f"the limit is {MAX_DATA_BYTES:,}"),
])
def test_every_bad_upload_is_refused_with_its_reason(http, text, task, status, message):
    resp = upload(http, text, task)
    body = resp.get_json()
    assert resp.status_code == status and message in body["message"], body
    assert "Traceback" not in resp.get_data(as_text=True)


def test_a_bad_validation_fraction_is_named(http):
    body = upload(http, LINE, val_fraction="half").get_json()
    assert body["errors"] == {"val_fraction": "expected a number, got 'half'"}


def test_a_start_naming_the_upload_trains_on_its_points_and_watchers_see_them(http, socket_client, preview):
    owner = socket_client(session=http)
    ack = owner.call("start", {"config": fast_config(data=preview["digest"], val_fraction=0.3, n_samples=500)})
    assert ack["ok"], ack
    ev = owner.wait_event(ack["job_id"], "dataset")
    points = sorted(zip(ev["x_train"] + ev["x_val"], ev["y_train"] + ev["y_val"]))
    assert [round(x, 4) for x, _ in points] == [round(i / 10, 4) for i in range(30)]
    assert len(ev["x_val"]) == preview["validation"]
    assert ev["config"]["data"]["digest"] == preview["digest"] and ev["config"]["n_samples"] == 30
    owner.wait_state(ack["job_id"], "finished", timeout=TIMEOUT * 3)
    watcher = socket_client()  # another browser, with the share link
    assert watcher.call("watch", {"job_id": ack["job_id"]})["ok"]
    seen = watcher.wait_for(lambda c: c.histories(ack["job_id"]), message="the watcher's history")[0]
    assert seen["runs"][0]["dataset"]["x_train"] == ev["x_train"]
    history = http.get(f"/jobs/{ack['job_id']}/history.json").get_json()
    assert history["runs"][0]["dataset"]["config"]["data"]["name"] == "squares.csv"


def test_a_start_naming_an_unknown_or_malformed_upload_says_so(socket_client):
    client = socket_client()
    for digest, said in (("0123456789abcdef", "no longer on the server"), ("../../etc", "not an upload of this server"),
                         ("", "not an upload of this server")):
        ack = client.call("start", {"config": fast_config(data=digest)})
        assert not ack["ok"] and said in ack["errors"]["data"], ack


def test_points_sent_in_the_start_itself_are_checked(socket_client):
    client = socket_client()
    ack = client.call("start", {"config": fast_config(data={"values": [[1, "nan"]] * 20})})
    assert not ack["ok"] and "row 1 must be 2 finite numbers" in ack["errors"]["data"]
    ack = client.call("start", {"config": fast_config(data={"csv": LINE, "name": "given.csv"})})
    assert ack["ok"], ack


def test_the_store_forgets_old_uploads_and_keeps_a_bounded_number():
    now = [0.0]
    store = UploadStore(keep=2, seconds=60, clock=lambda: now[0])
    digests = [store.add("function", LINE.replace("0.1,", f"0.{k}5,"))["digest"] for k in range(3)]
    assert store.get("function", digests[0]) is None and store.get("function", digests[2]) is not None
    now[0] = 61
    assert store.get("function", digests[2]) is None
    assert store.get("surface", digests[1]) is None  # an upload is for its task only
