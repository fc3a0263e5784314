"""Jobs in a pool of worker processes (WORKERS=processes, as in the Docker image): the web process relays.

The real ProcessBackend (a spawn multiprocessing.Pool and Manager queues) behind the socket test client.
Every test shuts the pool down and checks that none of its processes outlived it.
"""
import os
import signal
import threading
import time

import pytest

from support import (TEST_SETTINGS, TINY_MNIST, check_continuity, check_predict_refused_after_divergence, check_step_mode,
                     check_resume_and_set_lr, fast_config, long_config, wait_until)
from web import create_app

TERMINAL = ("finished", "stopped", "failed")


@pytest.fixture
def settings():
    return {**TEST_SETTINGS, "WORKERS": "processes", "MAX_RUNNING_JOBS": 2}


@pytest.fixture
def app(settings):
    """The app with a ProcessBackend; at teardown its jobs are stopped and its pool and manager shut down."""
    app = create_app(settings)
    backend = app.extensions["bpnet_jobs"].backend
    assert type(backend).__name__ == "ProcessBackend"
    yield app
    app.extensions["bpnet_jobs"].stop_all(timeout=10)
    procs = list(backend._procs.values()) + list(backend._pool._pool) + [backend._mp._process]
    backend.shutdown()
    wait_until(lambda: not any(p.is_alive() for p in procs), timeout=15,
               message="the worker pool and the queue manager to exit")


def start(client, config=None, **extra):
    ack = client.call("start", {"config": config if config is not None else long_config(), **extra})
    assert ack["ok"], ack
    return ack["job_id"]


def host_pid(manager, job_id):
    """The pid of the worker process hosting the job (once the worker has said so)."""
    job = manager.get(job_id).job
    return wait_until(lambda: (job.host or {}).get("pid"), message=f"the worker of job {job_id}")


def history_first(client, job_id):
    """The client got the job's history before any event that continues it (events relayed while the worker
    was answering may come first: they are older than the history and the client drops them by seq)."""
    history = client.histories(job_id)[0]
    for m in client.messages():
        if m["name"] == "history" and m["args"][0]["job_id"] == job_id:
            return history
        if m["name"] == "events":
            newer = [e["seq"] for e in m["args"][0] if e["job_id"] == job_id and e["seq"] > history["seq"]]
            assert not newer, f"events {newer} arrived before the history (seq {history['seq']})"
    pytest.fail("no history")


def pool_pids(manager):
    return {p.pid for p in manager.backend._pool._pool if p.is_alive()}


# --- a job end to end ---------------------------------------------------------------------------------
def test_job_runs_in_a_worker_process_and_streams_to_the_end(socket_client, manager, http):
    a = socket_client()
    job_id = start(a, fast_config(epochs=100))
    pid = host_pid(manager, job_id)
    assert pid != os.getpid() and pid in pool_pids(manager)
    a.wait_state(job_id, "finished")

    history = a.wait_for(lambda c: c.histories(job_id), message="history")[0]
    assert history["job_id"] == job_id and history["kind"] == "train"
    history_first(a, job_id)
    check_continuity(history, a.events(job_id))
    done = a.wait_event(job_id, "done")
    assert done["steps"] == 400 and {"train_loss", "val_loss", "seconds"} <= done.keys()
    assert {"state", "dataset", "steps", "norms", "snapshot", "done"} <= {e["type"] for e in a.events(job_id)}
    assert max(a.steps(job_id)) == 400

    # downloads, straight after the end (whether or not the worker's archive has arrived yet)
    csv = http.get(f"/jobs/{job_id}/history.csv")
    assert csv.status_code == 200, csv.get_json()
    lines = csv.data.decode().splitlines()
    assert lines[0].startswith("step,") and len(lines) == 401
    hist = http.get(f"/jobs/{job_id}/history.json")
    assert hist.status_code == 200 and hist.get_json()["state"] == "finished"
    assert hist.get_json()["runs"][0]["step"] == 400
    npz = http.get(f"/jobs/{job_id}/model.npz")
    assert npz.status_code == 200 and npz.data[:2] == b"PK"
    # ...and the ended job is now served by its archive here, not by the worker
    job = manager.get(job_id).job
    wait_until(lambda: job.archive is not None, message="the job's archive")
    assert job.state == "finished" and http.get(f"/jobs/{job_id}/history.csv").data == csv.data
    assert http.get("/healthz").get_json()["running_jobs"] == 0


def test_mnist_job_predicts_through_the_worker_then_from_its_archive(socket_client, manager):
    a = socket_client()
    job_id = start(a, dict(TINY_MNIST, epochs=100))
    a.wait_steps(job_id, 3)
    pixels = [0.0] * 784
    live = a.call("predict", {"job_id": job_id, "pixels": pixels})  # the worker answers: the job is live
    assert live["ok"], live
    assert len(live["probs"]) == 10 and sum(live["probs"]) == pytest.approx(1, abs=1e-4)
    assert a.call("stop", {"job_id": job_id})["ok"]
    a.wait_state(job_id, "stopped")
    ended = a.call("predict", {"job_id": job_id, "pixels": pixels})  # straight after the end
    assert ended["ok"], ended
    assert len(ended["probs"]) == 10 and sum(ended["probs"]) == pytest.approx(1, abs=1e-4)

    tiny = start(a, TINY_MNIST)
    a.wait_state(tiny, "finished")
    assert a.wait_event(tiny, "done")["steps"] == 7  # 1000 images: 7 full batches of 128
    ack = a.call("predict", {"job_id": tiny, "pixels": [0.5] * 784})
    assert ack["ok"], ack
    assert len(ack["probs"]) == 10 and sum(ack["probs"]) == pytest.approx(1, abs=1e-4)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the archive's model predicts here
def test_predict_on_a_diverged_model_is_refused_clearly(socket_client):
    check_predict_refused_after_divergence(socket_client(), start)


def test_pause_resume_set_lr_and_stop_reach_the_worker(socket_client, manager, http):
    a = socket_client()
    job_id = start(a)
    a.wait_steps(job_id, 5)

    assert a.call("pause", {"job_id": job_id}) == {"ok": True, "state": "paused"}
    paused = a.wait_state(job_id, "paused")
    worker_step = paused["steps"][0]  # the last step the worker made before it paused
    a.wait_steps(job_id, worker_step)
    time.sleep(0.3)  # a paused job does not step (checked over a short while)
    assert http.get(f"/jobs/{job_id}/history.json").get_json()["runs"][0]["step"] == worker_step
    assert max(a.steps(job_id)) == worker_step
    assert a.call("pause", {"job_id": job_id})["ok"] is False  # already paused: refused by the worker

    check_resume_and_set_lr(a, job_id, paused, worker_step)

    assert a.call("stop", {"job_id": job_id})["ok"] is True
    a.wait_state(job_id, "stopped")
    assert a.wait_event(job_id, "done")["stopped"] is True
    steps = a.steps(job_id)
    assert steps == list(range(1, len(steps) + 1))  # no step lost or repeated around pause, lr and stop
    check_continuity(history_first(a, job_id), a.events(job_id))
    assert a.call("resume", {"job_id": job_id})["ok"] is False
    assert a.call("start", {"config": fast_config()})["ok"] is True  # the session's slot is free again


# --- a worker that dies -------------------------------------------------------------------------------
def test_killed_worker_fails_its_job_and_the_pool_and_server_carry_on(socket_client, manager, http):
    a, b = socket_client(), socket_client()
    other = start(b)
    victim = start(a)
    b.wait_steps(other, 5)
    a.wait_steps(victim, 5)
    pid = host_pid(manager, victim)
    assert pid != host_pid(manager, other)
    os.kill(pid, signal.SIGKILL)

    failed = a.wait_state(victim, *TERMINAL, timeout=10)
    assert failed["state"] == "failed", failed
    assert "worker" in failed["message"] and "died" in failed["message"], failed
    assert "signal 9" in failed["message"], failed
    assert manager.get(victim).job.state == "failed"
    assert a.call("pause", {"job_id": victim})["ok"] is False  # a lost job refuses controls, at once

    # what its watchers saw stays downloadable: its history to the last step relayed (its model is lost)
    hist = http.get(f"/jobs/{victim}/history.json")
    assert hist.status_code == 200 and hist.json["state"] == "failed", hist.json
    assert hist.json["runs"][0]["steps"]["step"] == a.steps(victim)
    csv = http.get(f"/jobs/{victim}/history.csv")
    assert csv.status_code == 200 and len(csv.get_data(as_text=True).splitlines()) == len(a.steps(victim)) + 1
    lost = http.get(f"/jobs/{victim}/model.npz")
    assert lost.status_code == 409 and "model was lost" in lost.json["message"]
    w = socket_client()
    assert w.call("watch", {"job_id": victim})["ok"]
    late = w.wait_for(lambda c: c.histories(victim), message="the history")[0]
    assert late["state"] == "failed" and late["runs"][0]["steps"]["step"] == a.steps(victim)

    # the server keeps serving and the other client's job is unaffected
    assert http.get("/healthz").status_code == 200
    seen = max(b.steps(other))
    b.wait_steps(other, seen + 20)
    assert b.events(other, "state")[-1]["state"] == "running" and not b.errors()

    # the pool has replaced the dead worker: the victim's owner can start again and the job ends
    wait_until(lambda: len(pool_pids(manager)) == 2 and pid not in pool_pids(manager),
               message="the pool to replace its dead worker")
    again = start(a, fast_config())
    assert host_pid(manager, again) != pid
    a.wait_state(again, "finished")
    check_continuity(history_first(a, again), a.events(again))

    assert b.call("stop", {"job_id": other})["ok"] is True
    b.wait_state(other, "stopped")
    steps = b.steps(other)
    assert steps == list(range(1, len(steps) + 1))


def test_a_dead_queue_manager_fails_its_jobs_reports_unhealthy_and_is_restarted(socket_client, manager, http,
                                                                                monkeypatch):
    """The Manager process carrying every message dies (SIGKILL): its job fails with a message, /healthz reports
    503 and a start is refused clearly until a new manager runs; then jobs train again on the same pool."""
    backend = manager.backend
    a = socket_client()
    job_id = start(a)
    a.wait_steps(job_id, 5)
    pool = pool_pids(manager)
    back = threading.Event()  # the test decides when the new manager may start
    real = backend._start_manager
    monkeypatch.setattr(backend, "_start_manager", lambda: back.wait(30) and real())
    os.kill(backend._mp._process.pid, signal.SIGKILL)

    failed = a.wait_state(job_id, *TERMINAL, timeout=15)
    assert failed["state"] == "failed" and "message queue" in failed["message"], failed
    wait_until(lambda: http.get("/healthz").status_code == 503, message="/healthz to report the dead manager")
    refused = a.call("start", {"config": fast_config()})
    assert refused["ok"] is False and "restarting its message queue" in refused["message"], refused
    assert a.call("pause", {"job_id": job_id})["ok"] is False  # a clear refusal, not "internal server error"
    assert http.get(f"/jobs/{job_id}/history.json").status_code == 200

    back.set()
    wait_until(lambda: http.get("/healthz").status_code == 200, message="/healthz to answer 200 again")
    again = start(a, fast_config())
    assert a.wait_state(again, *TERMINAL, timeout=60)["state"] == "finished"
    assert set(pool_pids(manager)) == set(pool)  # the same workers: the cut-off one stopped its job


def test_worker_killed_while_building_its_job_fails_it(socket_client, manager):
    """The pid is known from the moment the worker takes the job, so a death while loading data is noticed."""
    a = socket_client()
    job_id = start(a, dict(TINY_MNIST, n_samples=20000))  # acknowledged at once: the worker builds it meanwhile
    history = a.wait_for(lambda c: c.histories(job_id), message="the history")[0]
    assert history["state"] == "created" and history["runs"] == []
    job = manager.get(job_id).job
    pid = host_pid(manager, job_id)
    assert job.state == "created"  # still loading MNIST (20 000 images) in the worker
    os.kill(pid, signal.SIGKILL)
    failed = a.wait_state(job_id, *TERMINAL, timeout=10)
    assert failed["state"] == "failed" and "signal 9" in failed["message"], failed
    assert job.state == "failed" and "died" in job.message
    assert a.call("stop", {"job_id": job_id})["ok"] is True  # harmless on a lost job
    again = start(a, fast_config())
    a.wait_state(again, "finished")


@pytest.fixture
def wedged_pool(manager):
    """Kill every worker process of the pool while they are idle. One of them holds the lock of the pool's task
    queue while it waits for a task, so their replacements cannot take one (multiprocessing.Pool's design)
    until the backend releases that lock. (The app fixture's teardown then checks that the pool still shuts
    down, whether or not the lock was released.)"""
    lock = manager.backend._pool._inqueue._rlock
    wait_until(lambda: lock._semlock._get_value() == 0, message="a worker waiting for tasks (holding the lock)")
    old = pool_pids(manager)
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(pool_pids(manager) - old) == 2, message="the pool to replace its workers")


def test_a_job_no_worker_takes_fails_clearly_instead_of_waiting_forever(wedged_pool, manager, monkeypatch):
    import web.process_backend

    monkeypatch.setattr(web.process_backend, "PROBE_PATIENCE", 1000)  # the pool stays jammed
    monkeypatch.setattr(web.process_backend, "START_PATIENCE", 2)
    job = manager.start("someone", config=fast_config())
    assert job.wait(10), job.state
    assert job.state == "failed" and "no worker process took this job" in job.message
    assert "someone" not in manager.backend.active_owners(list(manager._jobs.values()))  # its slot is free
    assert manager.backend.unjammed == 0


def test_the_pool_recovers_when_idle_workers_are_killed(wedged_pool, manager, monkeypatch):
    import web.process_backend

    monkeypatch.setattr(web.process_backend, "PROBE_PATIENCE", 1)
    job = manager.start("someone", config=fast_config())
    assert job.wait(30) and job.state == "finished", (job.state, job.message)
    assert manager.backend.unjammed == 1
    again = manager.start("someone", config=fast_config())  # and it goes on taking jobs
    assert again.wait(30) and again.state == "finished", (again.state, again.message)


def test_step_mode_xray_and_rewind_through_worker_processes(socket_client, manager):
    a = socket_client()
    job_id, _ = check_step_mode(a, socket_client())
    a.call("stop", {"job_id": job_id})
    a.wait_state(job_id, "stopped")
    manager.get(job_id).job.wait(20)  # its archive has come: it answers the X-ray now
    refused = a.call("xray", {"job_id": job_id})
    assert refused["ok"] is False and "no X-ray was recorded" in refused["message"]


def test_ones_own_data_travels_to_the_worker_and_back(http, socket_client, manager):
    """An upload named at Start trains in a worker process on exactly its points; the ended job's archive (sent
    back from the worker) still shows them by their summary."""
    text = "x1,x2,label\n" + "".join(f"{i % 7},{i // 7},{i % 2}\n" for i in range(40))
    preview = http.post("/api/data?task=classification", data=text).get_json()["preview"]
    client = socket_client(session=http)
    job_id = start(client, {"task": "classification", "data": preview["digest"], "epochs": 2, "hidden": [4]})
    ev = client.wait_event(job_id, "dataset")
    assert sorted(map(tuple, ev["points"])) == sorted((float(i % 7), float(i // 7)) for i in range(40))
    client.wait_state(job_id, "finished", timeout=60)
    wait_until(lambda: manager.get(job_id).job.archive is not None, message="the archive")
    assert manager.get(job_id).job.history()["runs"][0]["dataset"]["config"]["data"]["digest"] == preview["digest"]
