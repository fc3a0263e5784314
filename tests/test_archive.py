"""JobArchive keeps what an ended job still serves, and the host protocol drives a job through messages."""
import io
import queue

import numpy as np
import pytest

from bpnet.engine.archive import JobArchive
from bpnet.engine.host import answer, build_job, host_job
from bpnet.engine.job import Job, JobError
from support import wait_until

FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8], "batch_size": 16, "epochs": 5}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [16], "epochs": 1, "val_subset": 100, "eval_every": 4}


def finished(config):
    job = Job(config)
    job.start()
    assert job.wait(60) and job.state == "finished"
    return job


@pytest.fixture(scope="module")
def mnist_job():
    return finished(MNIST)


def test_archive_answers_like_the_job_and_survives_bytes(mnist_job):
    archive = JobArchive.from_bytes(JobArchive.from_job(mnist_job).to_bytes())
    assert (archive.id, archive.kind, archive.state, archive.run_count) == (mnist_job.id, "train", "finished", 1)
    assert archive.history() == mnist_job.history()
    assert archive.history_event() == mnist_job.history_event()
    assert archive.history_csv(0) == mnist_job.history_csv(0)
    with np.load(io.BytesIO(archive.model_npz(0))) as a, np.load(io.BytesIO(mnist_job.model_npz(0))) as b:
        assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
    pixels = np.random.default_rng(0).random(784).tolist()
    np.testing.assert_allclose(archive.predict_digit(pixels), mnist_job.predict_digit(pixels), rtol=1e-6)
    assert archive.predict_digit(pixels).sum() == pytest.approx(1.0)


def test_archive_keeps_the_last_xray_out_of_memory_and_in_its_bytes():
    events = []
    job = Job(FIT, paused=True)
    job.subscribe(events.append)
    job.start()
    job.step(3)
    wait_until(lambda: [e for e in events if e["type"] == "state" and e.get("steps") == [3]], message="step 3")
    job.stop()
    job.wait(60)
    archive = JobArchive.from_job(job)
    assert archive.xray(0) == job.xray(0) and archive.xray(0)["step"] == 3
    assert "xrays" not in archive.meta  # (the meta stays in memory; an X-ray, ~1 MB for a big net, does not)
    assert JobArchive.from_bytes(archive.to_bytes()).xray(0) == archive.xray(0)
    with pytest.raises(JobError, match="no run 1"):
        archive.xray(1)
    unseen = JobArchive.from_bytes(JobArchive.from_job(finished(FIT)).to_bytes())  # nobody looked: none recorded
    with pytest.raises(JobError, match="no X-ray was recorded"):
        unseen.xray(0)


def test_archive_refuses_controls_clearly_and_stop_is_harmless(mnist_job):
    archive = JobArchive.from_job(mnist_job)
    for control, args in (("pause", ()), ("resume", ()), ("set_lr", (0.1,))):
        with pytest.raises(JobError, match="finished"):
            getattr(archive, control)(*args)
    archive.stop()
    assert archive.wait(0) and archive.done


def test_archive_of_a_regression_job_predicts_values_and_refuses_digits():
    archive = JobArchive.from_job(finished(FIT))
    out = archive.predict(np.array([[0.0], [1.0]]))
    assert out.shape == (2, 1) and np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="MNIST"):
        archive.predict_digit([0.0] * 784)


def test_host_job_forwards_events_answers_requests_and_ends_with_the_archive():
    sent, inbox = [], queue.Queue()

    def receive(timeout):
        try:
            return inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    inbox.put({"op": "send_history", "req": 1, "sid": "S"})
    inbox.put({"op": "set_lr", "args": ["fast"], "req": 2})
    inbox.put({"op": "unknown", "req": 3})
    inbox.put({"op": "set_lr", "args": [0.005], "req": 4})
    archive = host_job(build_job("J", {"config": dict(FIT, epochs=200)}), sent.append, receive)
    kinds = [m["kind"] for m in sent]
    assert kinds[0] == "host" and kinds[-1] == "archive" and "history" in kinds
    replies = {m["req"]: m for m in sent if m["kind"] == "reply"}
    assert replies[1]["ok"] and not replies[2]["ok"] and replies[2]["errors"] == {"lr": "expected a number, got 'fast'"}
    assert not replies[3]["ok"] and "unknown request" in replies[3]["error"]
    assert replies[4]["ok"] and replies[4]["result"] == 0.005
    events = [m["event"] for m in sent if m["kind"] == "event"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    history = next(m for m in sent if m["kind"] == "history")
    assert history["sid"] == "S" and history["event"]["type"] == "history"
    assert JobArchive.from_bytes(sent[-1]["data"]).state == archive.state == "finished"


def test_answer_never_raises_and_builds_comparisons():
    job = build_job("C", {"comparison": "activation", "config": dict(FIT, epochs=1)})
    assert job.kind == "compare:activation" and job.run_count == 3
    sent = []
    answer(job, {"op": "pause", "req": 9}, sent.append)  # not started: refused, not raised
    assert sent == [{"kind": "reply", "job_id": "C", "req": 9, "ok": False, "error": "cannot pause a job that is created"}]
