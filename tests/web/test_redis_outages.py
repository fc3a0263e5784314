"""Redis outages (a real redis-server killed, then started again empty on the same port), with workers and a web
process as in production. A worker rides an outage out: its events wait and are sent once Redis is back; a job
whose events cannot be delivered for BPNET_REDIS_PATIENCE seconds fails with a message; the worker itself goes
on and takes the next job. The issue's outages of 5, 30 and 90 s against the default patience of 20 s are run
scaled down (patience 4 s: outages of 1, 6 and 18 s), and the 90 s one once at real scale."""
import time

import pytest

from support import check_continuity, fast_config, wait_until

TERMINAL = ("finished", "stopped", "failed")
PATIENCE = 4.0  # seconds (the default, 20, in the real-scale test)


def start(client, config):
    ack = client.call("start", {"config": config})
    assert ack["ok"], ack
    return ack["job_id"]


def outage(redis_server, client, seconds):
    """Redis down for `seconds` (killed: every key is lost), then back; /healthz says so meanwhile."""
    redis_server.kill()
    down = time.monotonic()
    wait_until(lambda: client.get("/healthz").status_code == 503, message="/healthz to report the outage")
    time.sleep(max(0.0, seconds - (time.monotonic() - down)))  # the outage lasts this long: nothing to wait for
    redis_server.start()


def next_job_runs(client, steps=20, timeout=60):
    """After the outage the servers and the worker take and finish a new job, every event delivered."""
    wait_until(lambda: client.get("/healthz").status_code == 200, timeout=30, message="/healthz to answer 200")
    job_id = start(client, fast_config())
    assert client.wait_state(job_id, *TERMINAL, timeout=timeout)["state"] == "finished"
    assert client.wait_event(job_id, "done")["steps"] == steps
    check_continuity(client.wait_for(lambda c: c.histories(job_id), message="history")[0], client.events(job_id))


@pytest.fixture
def setup(redis_server, redis_workers, redis_web, live_client):
    def make(patience=PATIENCE):
        (worker,) = redis_workers(1, BPNET_REDIS_PATIENCE=str(patience))
        client = live_client(redis_web())
        return worker, client
    return make


def test_an_outage_shorter_than_the_patience_loses_nothing(setup, redis_server):
    """5 s against 20 s, scaled: the job carries on, and every one of its events reaches the page, in order."""
    worker, a = setup()
    job_id = start(a, fast_config(epochs=150, pace=100))  # 600 steps at 100 steps/s: 6 s
    a.wait_steps(job_id, 50)
    outage(redis_server, a, PATIENCE * 5 / 20)
    end = a.wait_state(job_id, *TERMINAL, timeout=60)
    assert end["state"] == "finished", end
    assert a.wait_event(job_id, "done")["steps"] == 600
    assert a.steps(job_id) == list(range(1, 601))  # none lost during the outage
    check_continuity(a.histories(job_id)[0], a.events(job_id))
    assert worker.poll() is None
    next_job_runs(a)


@pytest.mark.parametrize("seconds", [30, 90])
def test_an_outage_longer_than_the_patience_fails_the_job_with_a_message_and_the_worker_goes_on(setup, redis_server,
                                                                                              seconds):
    """30 s and 90 s against 20 s, scaled: the job fails, saying why, and its watcher is told once Redis is
    back; its history stays downloadable; the worker takes the next job."""
    worker, a = setup()
    job_id = start(a, fast_config(epochs=5000, pace=100))
    a.wait_steps(job_id, 50)
    outage(redis_server, a, PATIENCE * seconds / 20)
    check_failed_and_recovered(a, worker, job_id, PATIENCE)


def check_failed_and_recovered(client, worker, job_id, patience):
    end = client.wait_state(job_id, *TERMINAL, timeout=60)
    assert end["state"] == "failed", end
    assert f"unreachable for {patience:g} s" in end["message"] and "stopped it" in end["message"], end
    history = client.get(f"/jobs/{job_id}/history.json")
    assert history.status_code == 200 and history.json()["state"] == "failed"
    assert worker.poll() is None, "the worker quit during the outage"
    next_job_runs(client)


def test_a_90_second_outage_at_real_scale(setup, redis_server):
    """The default patience (20 s) against a real 90 s outage: RQ's own timers (its 30 s heartbeats, which
    ended the worker before) come into play too."""
    worker, a = setup(patience=20)
    job_id = start(a, fast_config(epochs=5000, pace=100))
    a.wait_steps(job_id, 50)
    outage(redis_server, a, 90)
    check_failed_and_recovered(a, worker, job_id, 20)
