"""Many machines (BPNET_REDIS_URL): real redis-server, `python -m bpnet.worker` processes and `python app.py` web
processes, driven by python-socketio clients. Everything runs as separate processes, as it does in production.
"""
import os
import signal
import time

import pytest

from support import (TINY_MNIST, alive, check_continuity, check_predict_refused_after_divergence, check_step_mode,
                     check_resume_and_set_lr, descendants, fast_config, long_config, wait_until)

TERMINAL = ("finished", "stopped", "failed")


def start(client, config=None, **extra):
    ack = client.call("start", {"config": config if config is not None else long_config(), **extra})
    assert ack["ok"], ack
    return ack["job_id"]


def record(redis_server, job_id):
    """The job's Redis hash bpnet:job:<id> (state, message, seq, host "hostname:pid", owner, ...)."""
    return redis_server.client().hgetall(f"bpnet:job:{job_id}")


def horse_pid(redis_server, job_id):
    """The pid of the process training the job (RQ's work horse, a child of the worker process)."""
    host = wait_until(lambda: record(redis_server, job_id).get("host"), message=f"job {job_id} to be taken")
    return int(host.rsplit(":", 1)[1])


def finished_end_to_end(client, job_id, steps, timeout=30):
    """The client saw the job through: a history, every event after it (seq without gap), done, finished."""
    state = client.wait_state(job_id, *TERMINAL, timeout=timeout)
    assert state["state"] == "finished", state
    history = client.wait_for(lambda c: c.histories(job_id), message="the history")[0]
    done = client.wait_event(job_id, "done")
    assert done["steps"] == steps
    check_continuity(history, client.events(job_id))
    assert client.steps(job_id)[-1] == steps
    return history


# --- jobs end to end ----------------------------------------------------------------------------------
def test_two_jobs_from_two_clients_train_concurrently_on_two_workers(redis_server, redis_workers, redis_web,
                                                                     live_client):
    workers = redis_workers(2)
    url = redis_web()
    a, b = live_client(url), live_client(url)
    paced = fast_config(epochs=40, pace=80)  # 160 steps at 80 steps/s: 2 s each, so they must overlap
    job_a, job_b = start(a, paced), start(b, paced)
    hosts = {horse_pid(redis_server, job_a), horse_pid(redis_server, job_b)}
    assert len(hosts) == 2  # two processes...
    wait_until(lambda: all(record(redis_server, j)["state"] == "running" for j in (job_a, job_b)),
               message="both jobs running at once")
    assert [len(hosts & set(descendants(w.pid))) for w in workers] == [1, 1]  # a work horse of each worker

    finished_end_to_end(a, job_a, 160)
    finished_end_to_end(b, job_b, 160)
    assert a.events(job_b) == [] and b.events(job_a) == []  # each client gets only its own job

    # downloads straight after the end (the worker may still be storing the archive), then from the archive
    csv = a.get(f"/jobs/{job_a}/history.csv")
    assert csv.status_code == 200 and csv.text.startswith("step,") and len(csv.text.splitlines()) == 161
    npz = a.get(f"/jobs/{job_a}/model.npz")
    assert npz.status_code == 200 and npz.content[:2] == b"PK"
    hist = b.get(f"/jobs/{job_b}/history.json").json()
    assert hist["state"] == "finished" and hist["runs"][0]["step"] == 160
    assert redis_server.client().exists(f"bpnet:archive:{job_a}", f"bpnet:archive:{job_b}") == 2
    assert record(redis_server, job_a)["state"] == "finished"
    assert not redis_server.client().sismember("bpnet:active", job_a)
    assert a.get("/healthz").json()["running_jobs"] == 0
    # a job that has ended frees its slot at once, even while its worker is still storing its archive (it then
    # stays in the set of active jobs, as it is put back here)
    redis_server.client().sadd("bpnet:active", job_a, job_b)
    assert a.get("/healthz").json()["running_jobs"] == 0


def test_controls_reach_the_worker_through_redis(redis_server, redis_workers, redis_web, live_client):
    redis_workers(1)
    a = live_client(redis_web())
    job_id = start(a)
    a.wait_steps(job_id, 5)

    assert a.call("pause", {"job_id": job_id}) == {"ok": True, "state": "paused"}
    paused = a.wait_state(job_id, "paused")
    assert record(redis_server, job_id)["state"] == "paused"
    worker_step = paused["steps"][0]  # the last step the worker made before it paused
    a.wait_steps(job_id, worker_step)
    time.sleep(0.3)  # a paused job does not step (checked over a short while)
    assert a.get(f"/jobs/{job_id}/history.json").json()["runs"][0]["step"] == worker_step
    assert max(a.steps(job_id)) == worker_step
    refused = a.call("pause", {"job_id": job_id})
    assert refused["ok"] is False and "paused" in refused["message"]

    check_resume_and_set_lr(a, job_id, paused, worker_step)

    b = live_client(a.base_url)  # another session may watch but not control
    assert b.call("watch", {"job_id": job_id})["owner"] is False
    assert "another session" in b.call("stop", {"job_id": job_id})["message"]

    assert a.call("stop", {"job_id": job_id})["ok"] is True
    assert a.wait_state(job_id, *TERMINAL)["state"] == "stopped"
    assert a.wait_event(job_id, "done")["stopped"] is True
    b.wait_state(job_id, "stopped")
    steps = a.steps(job_id)
    assert steps == list(range(1, len(steps) + 1))  # no step lost or repeated around pause, lr and stop
    check_continuity(a.histories(job_id)[0], a.events(job_id))
    assert a.call("resume", {"job_id": job_id})["ok"] is False
    assert a.get(f"/jobs/{job_id}/model.npz").status_code == 200


def test_a_second_web_process_watches_and_controls_a_job_started_on_the_first(redis_server, redis_workers,
                                                                               redis_web, live_client):
    """Several web processes behind a load balancer: any of them serves any job (state and rooms in Redis)."""
    redis_workers(1)
    web1, web2 = redis_web(), redis_web()
    a = live_client(web1)
    job_id = start(a)
    a.wait_steps(job_id, 20)

    w = live_client(web2)  # another session, on the other web process
    assert w.call("watch", {"job_id": job_id}) == {"ok": True, "job_id": job_id, "owner": False}
    history = w.wait_for(lambda c: c.histories(job_id), message="the history")[0]
    assert history["state"] == "running" and history["runs"][0]["steps"]["step"][-1] >= 20
    w.wait_event(job_id, "steps", lambda e: e["seq"] > history["seq"] + 5)
    check_continuity(history, w.events(job_id))
    assert w.get(f"/watch/{job_id}").status_code == 200
    assert "another session" in w.call("pause", {"job_id": job_id})["message"]

    tab = live_client(web2, session=a)  # the owner's browser, its next connection sent to the other web
    assert tab.call("watch", {"job_id": job_id})["owner"] is True
    assert tab.call("pause", {"job_id": job_id}) == {"ok": True, "state": "paused"}
    for c in (a, w, tab):
        c.wait_state(job_id, "paused")
    assert tab.call("stop", {"job_id": job_id})["ok"] is True
    for c in (a, w, tab):
        c.wait_state(job_id, "stopped")
    check_continuity(history, w.events(job_id))
    csv = w.get(f"/jobs/{job_id}/history.csv")
    assert csv.status_code == 200 and csv.text.startswith("step,")


def test_predict_on_a_diverged_model_is_refused_clearly(redis_workers, redis_web, live_client):
    redis_workers(1)
    check_predict_refused_after_divergence(live_client(redis_web()), start)


# --- failures -----------------------------------------------------------------------------------------
def test_worker_killed_mid_run_fails_the_job_within_seconds(redis_server, redis_workers, redis_web, live_client):
    worker, spare = redis_workers(2)
    url = redis_web()
    a = live_client(url)
    job_id = start(a)
    a.wait_steps(job_id, 10)
    pid = horse_pid(redis_server, job_id)
    owner = worker if pid in descendants(worker.pid) else spare
    for p in (owner.pid, pid):  # the whole worker: its process and its work horse
        os.kill(p, signal.SIGKILL)
    killed = time.monotonic()

    failed = a.wait_state(job_id, *TERMINAL, timeout=15)
    assert time.monotonic() - killed < 12
    assert failed["state"] == "failed", failed
    assert "worker" in failed["message"] and "stopped responding" in failed["message"], failed
    rec = record(redis_server, job_id)
    assert rec["state"] == "failed" and not redis_server.client().sismember("bpnet:active", job_id)
    assert a.get("/healthz").status_code == 200
    refused = a.call("pause", {"job_id": job_id})
    assert refused["ok"] is False and "failed" in refused["message"]
    # what its watchers saw stays downloadable from the web process that launched it (its model is lost)
    hist = a.get(f"/jobs/{job_id}/history.json")
    assert hist.status_code == 200 and hist.json()["state"] == "failed", hist.text[:300]
    assert hist.json()["runs"][0]["steps"]["step"] == a.steps(job_id)
    assert a.get(f"/jobs/{job_id}/history.csv").text.count("\n") == len(a.steps(job_id)) + 1
    assert a.get(f"/jobs/{job_id}/model.npz").status_code == 409

    again = start(a, fast_config())  # the other worker takes the next job
    finished_end_to_end(a, again, 20)


def test_worker_killed_while_loading_the_data_fails_the_job_within_seconds(redis_server, redis_workers, redis_web,
                                                                          live_client):
    """The worker's heartbeat starts when it takes the job, not once the data is loaded."""
    redis_workers(1)
    a = live_client(redis_web())
    job_id = start(a, dict(TINY_MNIST, n_samples=20000))
    pid = horse_pid(redis_server, job_id)
    assert record(redis_server, job_id)["state"] == "created"  # still loading 20 000 MNIST images
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    failed = a.wait_state(job_id, *TERMINAL, timeout=15)
    assert time.monotonic() - killed < 12
    assert failed["state"] == "failed" and "stopped responding" in failed["message"], failed
    again = start(a, fast_config())  # the worker itself lives on and takes the next job
    finished_end_to_end(a, again, 20)


def test_a_job_stopped_while_queued_never_runs(redis_server, redis_workers, redis_web, live_client):
    redis_workers(1)
    url = redis_web()
    a, b = live_client(url), live_client(url)
    busy = start(a)  # the only worker is busy with a's job
    a.wait_steps(busy, 5)
    queued = start(b, fast_config())
    assert b.histories(queued) or b.wait_for(lambda c: c.histories(queued), message="the placeholder history")
    assert record(redis_server, queued)["state"] == "created"
    assert b.call("stop", {"job_id": queued})["ok"] is True
    stopped = b.wait_state(queued, *TERMINAL)
    assert stopped["state"] == "stopped", stopped
    assert a.call("stop", {"job_id": busy})["ok"] is True  # the worker is free: the cancelled job must not run
    a.wait_state(busy, "stopped")
    mine = start(b, fast_config())
    finished_end_to_end(b, mine, 20)
    assert record(redis_server, queued)["state"] == "stopped"
    assert b.events(queued, "steps") == [] and not record(redis_server, queued)["host"]  # no worker took it


def test_sigterm_to_a_training_worker_stops_its_job_and_the_worker_exits(redis_server, redis_workers, redis_web,
                                                                         live_client):
    (worker,) = redis_workers(1)
    a = live_client(redis_web())
    job_id = start(a)
    a.wait_steps(job_id, 5)
    horse = horse_pid(redis_server, job_id)
    worker.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    stopped = a.wait_state(job_id, *TERMINAL, timeout=10)
    assert stopped["state"] == "stopped", stopped
    worker.wait(max(0.1, 10 - (time.monotonic() - sent)))  # raises TimeoutExpired if it outlives 10 s
    assert worker.returncode == 0 and not alive(horse)
    assert record(redis_server, job_id)["state"] == "stopped"
    assert a.wait_event(job_id, "done")["stopped"] is True
    check_continuity(a.histories(job_id)[0], a.events(job_id))
    assert a.get(f"/jobs/{job_id}/history.csv").status_code == 200  # its archive was stored on the way out


def test_redis_restarted_mid_run_never_leaves_the_job_hanging(redis_server, redis_workers, redis_web, live_client):
    """Redis killed and back (empty) a second later: the job fails cleanly or carries on and finishes; the
    client sees its end; the servers recover and run the next job."""
    redis_workers(1)
    url = redis_web()
    a = live_client(url)
    job_id = start(a, fast_config(epochs=100, pace=100))  # 400 steps at 100 steps/s: about 4 s
    a.wait_steps(job_id, 50)
    redis_server.kill()
    down = time.monotonic()
    wait_until(lambda: time.monotonic() - down >= 1.0, message="a second of outage")
    redis_server.start()

    end = a.wait_state(job_id, *TERMINAL, timeout=60)
    assert end["state"] in ("finished", "failed"), end
    if end["state"] == "failed":
        assert end["message"], end
    else:  # its events carried on after the outage (those sent during it are lost: the page resyncs on the gap)
        assert a.wait_event(job_id, "done")["steps"] == 400 and a.steps(job_id)[-1] == 400
    wait_until(lambda: record(redis_server, job_id).get("state") in TERMINAL, timeout=30,
               message="the job's record to show its end")
    assert a.connected
    wait_until(lambda: a.get("/healthz").status_code == 200, timeout=30, message="/healthz to answer 200 again")
    again = start(a, fast_config())
    finished_end_to_end(a, again, 20, timeout=60)


def test_step_mode_xray_and_rewind_through_redis_workers(redis_server, redis_workers, redis_web, live_client):
    redis_workers(2)  # the rewound job may start while the old one's worker stores its archive
    url = redis_web()
    check_step_mode(live_client(url), live_client(url))


# --- the job's record -----------------------------------------------------------------------------------
def test_a_heartbeat_never_writes_back_a_state_older_than_the_one_just_recorded(redis_server):
    """The worker's heartbeat thread and its request thread both write the job's record: a beat that read
    'running' just before a pause must not land after the 'paused' one (the web answers pause from the record)."""
    import threading

    from bpnet.worker import _Link

    link = _Link(redis_server.url, "j-beat", {"owner": "o"})
    link.state = "running"
    held, go, paused_beat_done = threading.Event(), threading.Event(), threading.Event()
    pipeline = link.redis.pipeline

    def holding_pipeline():  # the heartbeat's pipeline: held in execute() until told to go on
        link.redis.pipeline = pipeline  # (only the first beat's)
        pipe = pipeline()
        execute = pipe.execute
        pipe.execute = lambda: (held.set(), go.wait(), execute())[2]
        return pipe

    link.redis.pipeline = holding_pipeline
    heartbeat = threading.Thread(target=link.beat)
    heartbeat.start()
    held.wait()
    link.state = "paused"
    requests = threading.Thread(target=lambda: (link.beat(), paused_beat_done.set()))
    requests.start()
    paused_beat_done.wait(0.5)  # (only a missing lock lets it finish while the heartbeat's beat is held)
    go.set()
    heartbeat.join(), requests.join()
    assert record(redis_server, "j-beat")["state"] == "paused"
