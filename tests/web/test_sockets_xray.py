"""Step mode and the X-ray over the socket and HTTP, threads backend (the processes and Redis backends run the
same check in test_processes.py and test_redis.py)."""
from support import STEP_FIT, check_step_mode, long_config, wait_until


def test_step_mode_xray_and_rewind(socket_client, manager):
    a = socket_client()
    job_id, losses = check_step_mode(a, socket_client())
    a.call("step", {"job_id": job_id, "steps": 3})
    a.wait_event(job_id, "state", lambda e: e["state"] == "paused" and e.get("steps") == [3])
    assert a.call("xray", {"job_id": job_id})["xray"]["lr"] == 0.1  # the rewound job's lr
    other = [loss for e in a.events(job_id, "steps") for loss in e["loss"]]
    assert other[0] == losses[0] and other[1:] != losses[1:]  # the same start, then another way down


def test_a_running_job_sends_xrays_while_someone_asks(socket_client, manager):
    a = socket_client()
    job_id = a.call("start", {"config": long_config()})["job_id"]
    a.wait_steps(job_id, 1)
    a.call("xray", {"job_id": job_id})  # asking: the next steps are recorded (or one already was)
    ready = a.wait_event(job_id, "xray_ready")
    shot = a.call("xray", {"job_id": job_id})
    assert shot["ok"] and shot["xray"]["step"] >= ready["step"]
    refused = a.call("step", {"job_id": job_id, "steps": 1})
    assert refused["ok"] is False and "pause it first" in refused["message"]


def test_xray_json_answers_clearly(socket_client, http, manager):
    a = socket_client()
    job_id = a.call("start", {"config": STEP_FIT, "paused": True})["job_id"]
    a.wait_state(job_id, "paused")
    assert http.get("/jobs/nope/xray.json").status_code == 404
    for bad in ("1", "-1", "x", "9" * 5000):
        assert http.get(f"/jobs/{job_id}/xray.json?run={bad}").status_code == 400
    resp = http.get(f"/jobs/{job_id}/xray.json")
    assert resp.status_code == 409 and "no step has run yet" in resp.get_json()["error"]


def test_an_ended_job_keeps_its_last_xray(socket_client, manager):
    a = socket_client()
    job_id = a.call("start", {"config": STEP_FIT, "paused": True})["job_id"]
    a.wait_state(job_id, "paused")
    a.call("step", {"job_id": job_id, "steps": 2})
    a.wait_event(job_id, "xray_ready")
    shot = a.call("xray", {"job_id": job_id})["xray"]
    a.call("stop", {"job_id": job_id})
    a.wait_state(job_id, "stopped")
    manager.get(job_id).job.wait(20)
    wait_until(lambda: type(manager.get(job_id).job._target).__name__ == "JobArchive", message="the archive")
    assert a.call("xray", {"job_id": job_id})["xray"] == shot


def test_dists_reach_the_page_and_its_history(socket_client, manager):
    a = socket_client()
    job_id = a.call("start", {"config": STEP_FIT, "paused": True})["job_id"]
    a.wait_state(job_id, "paused")
    a.call("step", {"job_id": job_id, "steps": 2})
    sample = a.wait_event(job_id, "dists", lambda e: e["step"] == 2)
    assert [layer["name"] for layer in sample["layers"]] == ["Linear 1", "Linear 2", "Linear 3"]
    watcher = socket_client()
    watcher.call("watch", {"job_id": job_id})
    history = watcher.wait_for(lambda c: c.histories(job_id))[0]
    assert [d["step"] for d in history["runs"][0]["dists"]] == [1, 2]


def test_an_ended_job_rewinds_unless_another_one_runs(socket_client, manager):
    a = socket_client()
    ended = a.call("start", {"config": STEP_FIT})["job_id"]
    a.wait_state(ended, "finished")
    running = a.call("start", {"config": long_config()})["job_id"]
    refused = a.call("rewind", {"job_id": ended})
    assert refused["ok"] is False and "already have a job running" in refused["message"]
    a.call("stop", {"job_id": running})
    a.wait_state(running, "stopped")
    again = a.call("rewind", {"job_id": ended, "lr": 0.2})
    assert again["ok"] and again["lr"] == 0.2
    a.wait_event(again["job_id"], "state", lambda e: e["state"] == "paused" and e.get("steps") == [0])


def test_a_comparison_steps_but_does_not_rewind(socket_client, manager):
    a = socket_client()
    ack = a.call("start", {"comparison": "normalization", "config": {"task": "function", "n_samples": 60,
                                                                    "hidden": [4], "epochs": 2}, "paused": True})
    job_id = ack["job_id"]
    a.wait_state(job_id, "paused")
    assert a.call("step", {"job_id": job_id, "steps": 2})["until"] == [2, 2]
    a.wait_event(job_id, "state", lambda e: e["state"] == "paused" and e.get("steps") == [2, 2])
    assert a.call("xray", {"job_id": job_id, "run": 1})["xray"]["step"] == 2
    refused = a.call("rewind", {"job_id": job_id})
    assert refused["ok"] is False and "single run" in refused["message"]
    for bad in ({}, {"job_id": 5}, {"job_id": "x" * 100}, None, "job"):
        assert a.call("rewind", bad)["ok"] is False


def test_xray_requests_are_rate_limited(app, socket_client, http, manager):
    limit = app.extensions["bpnet_xray_limit"]
    now = [1000.0]
    limit.clock = lambda: now[0]  # frozen: the bucket refills only when the test moves the clock
    owner, watcher = socket_client(), socket_client()
    job_id = owner.call("start", {"config": STEP_FIT, "paused": True})["job_id"]
    owner.wait_state(job_id, "paused")
    owner.call("step", {"job_id": job_id})
    owner.wait_event(job_id, "xray_ready")
    for client in (owner, watcher):  # per connection
        acks = [client.call("xray", {"job_id": job_id}) for _ in range(limit.burst + 2)]
        assert [a["ok"] for a in acks] == [True] * limit.burst + [False] * 2
        assert "too many X-ray requests" in acks[-1]["message"]
    codes = [http.get(f"/jobs/{job_id}/xray.json").status_code for _ in range(limit.burst + 1)]
    assert codes == [200] * limit.burst + [429]
    now[0] += 1.0
    assert owner.call("xray", {"job_id": job_id})["ok"] and http.get(f"/jobs/{job_id}/xray.json").status_code == 200
