"""Models that travel through the dashboard: the PyTorch script download, a model .npz uploaded back (a hostile
file answered with a clear JSON error), shown on its page with its outputs on its data, predicting digits, and
trained on from its weights by a new run (init_from)."""
import io
import json
import zipfile

import numpy as np
import pytest

from bpnet.engine.saved import MAX_MODEL_BYTES
from support import TINY_MNIST, fast_config
from test_sockets import assert_refused, no_tracebacks

TRAINED = fast_config(formula="sin(2*x)", n_samples=80, hidden=[8], epochs=60)


@pytest.fixture
def trained(manager):
    job = manager.start("teacher", config=TRAINED)
    assert job.wait(60) and job.state == "finished"
    return job


def upload(http, data, name="fit.npz"):
    return http.post(f"/models?name={name}", data=data, content_type="application/octet-stream")


def test_the_pytorch_script_download_runs_the_same_network(http, trained):
    resp = http.get(f"/jobs/{trained.id}/model.py?run=0")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Content-Disposition"].endswith(f"bpnet-{trained.id[:8]}-run0-model.py")
    source = resp.data.decode()
    assert f'MODEL_FILE = "bpnet-{trained.id[:8]}-run0-model.npz"'.replace('"', "'") in source
    assert "nn.Linear(1, 8, bias=True),  # 0" in source and "nn.Tanh(),  # 1" in source
    compile(source, "model.py", "exec")
    assert http.get(f"/jobs/{trained.id}/model.py?run=3").status_code == 400


def test_an_uploaded_model_is_a_loaded_job_with_the_models_outputs(http, socket_client, trained):
    client = socket_client()
    npz = trained.model_npz()
    resp = upload(client.http, npz)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["page"] == "function" and body["page_url"] == f"/function?job={body['job_id']}"
    history = client.http.get(f"/jobs/{body['job_id']}/history.json").get_json()
    assert history["state"] == "finished" and history["message"].startswith("loaded from fit.npz")
    final, theirs = history["runs"][0]["final"], trained.history()["runs"][0]["final"]
    assert final["val_loss"] == theirs["val_loss"] and final["steps"] == 0  # the same model on the same data
    assert client.http.get(f"/jobs/{body['job_id']}/model.npz").data == npz
    ack = client.call("watch", {"job_id": body["job_id"]})
    assert ack["ok"] and ack["owner"]
    h = client.wait_for(lambda c: c.histories(body["job_id"]), message="the loaded job's history")[0]
    assert h["kind"] == "loaded" and h["runs"][0]["snapshot"]["y_pred"] and h["runs"][0]["dataset"]["config"] == trained.config


def test_a_run_trains_on_from_a_loaded_model(http, socket_client, trained):
    client = socket_client()
    loaded = upload(client.http, trained.model_npz()).get_json()["job_id"]
    fresh = client.call("start", {"config": dict(TRAINED, epochs=1)})
    client.wait_state(fresh["job_id"], "finished")
    ack = client.call("start", {"config": dict(TRAINED, epochs=1, lr=0.001), "init_from": loaded})
    assert ack["ok"], ack
    client.wait_state(ack["job_id"], "finished")
    first = lambda job_id: client.wait_event(job_id, "steps")["loss"][0]  # noqa: E731
    trained_loss = trained.history()["runs"][0]["final"]["train_loss"]
    assert first(ack["job_id"]) < 1.5 * trained_loss < first(fresh["job_id"])  # it began where the model was


def test_training_on_keeps_the_network(socket_client, trained):
    client = socket_client()
    ack = client.call("start", {"config": dict(TRAINED, hidden=[4, 4]), "init_from": trained.id})
    assert_refused(client, ack, "start", "hidden", "the model being trained on has hidden 8")
    assert ack["errors"].keys() == {"hidden"}
    ack = client.call("start", {"comparison": "activation", "init_from": trained.id})
    assert_refused(client, ack, "start", "a comparison trains its variants afresh")
    for bad in (5, "", "x" * 100):
        assert_refused(client, client.call("start", {"config": TRAINED, "init_from": bad}), "start", "init_from must be")
    assert_refused(client, client.call("start", {"config": TRAINED, "init_from": "nope"}), "start", "unknown job id")


def test_a_loaded_mnist_model_predicts_drawn_digits(http, socket_client, manager):
    source = manager.start("teacher", config=TINY_MNIST)
    assert source.wait(60)
    client = socket_client()
    body = upload(client.http, source.model_npz(), "digits.npz").get_json()
    assert body["page"] == "mnist"
    pixels = np.random.default_rng(0).random(784).tolist()
    ack = client.call("predict", {"job_id": body["job_id"], "pixels": pixels})
    assert ack["ok"] and ack["probs"] == pytest.approx(source.predict_digit(pixels).tolist(), abs=1e-7)


def npz_with(comment, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = json.dumps(comment).encode()
    return buf.getvalue()


def test_hostile_uploads_get_a_clear_json_error(http, trained, caplog):
    with zipfile.ZipFile(io.BytesIO(trained.model_npz())) as z:
        about = json.loads(z.comment)
    state = {k: v for k, v in np.load(io.BytesIO(trained.model_npz())).items()}
    cases = [(b"not a zip", 400, "not a .npz model file"),
             (b"", 400, "not a .npz model file"),
             (npz_with(about, **{**state, "0.weight": np.array([None], dtype=object)}), 400, "pickled Python objects"),
             (npz_with(about, **{**state, "0.weight": np.ones((3, 3))}), 400, "0.weight has shape (3, 3)"),
             (npz_with(about, **{k: v for k, v in state.items() if k != "0.bias"}), 400, "missing 0.bias"),
             (npz_with({**about, "config": {"task": "mnist", "n_samples": 1}}), 400, "settings are not valid")]
    for data, code, words in cases:
        resp = upload(http, data, "bad.npz")
        assert resp.status_code == code and resp.is_json, resp.data[:200]
        assert words in resp.get_json()["message"] and resp.get_json()["message"].startswith("bad.npz: ")
    too_big = upload(http, bytes(MAX_MODEL_BYTES + 1))
    assert too_big.status_code == 413 and "32.0 MB: a model file may be at most 32 MB" in too_big.get_json()["message"]
    assert http.get("/models").status_code == 405
    no_tracebacks(caplog)
