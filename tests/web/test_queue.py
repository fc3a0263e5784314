"""A class on one server: when every training slot is busy a start waits in line with its place shown, starts
when a slot frees (first come, first served), read-only watching is never held up, and leaving (the button, or
the page for longer than the grace period) gives the place up. Tests wait on the 'queue' events."""
import pytest

from support import TEST_SETTINGS, fast_config, long_config, wait_until
from test_sockets import assert_refused, no_tracebacks, start
from web import create_app


@pytest.fixture(params=["threads", "processes"])
def settings(request):
    """Every test in both local backends: jobs training in the web process, and in a pool of worker processes."""
    return {**TEST_SETTINGS, "WORKERS": request.param}


@pytest.fixture
def app(settings):
    """The app; at teardown its jobs are stopped and its backend shut down (a worker pool and its manager)."""
    app = create_app(settings)
    yield app
    app.extensions["bpnet_jobs"].stop_all(timeout=10)
    app.extensions["bpnet_jobs"].backend.shutdown()


def queue_events(client, **where):
    return [q for q in client.payloads("queue") if all(q.get(k) == v for k, v in where.items())]


def wait_queue(client, **where):
    return client.wait_for(lambda c: queue_events(c, **where), message=f"a 'queue' event {where}")[-1]


def queued(client, config=None):
    ack = client.call("start", {"config": config or fast_config()})
    assert ack["ok"] and ack["queued"], ack
    return ack


@pytest.fixture
def full(socket_client):
    """Both slots busy with long jobs: (clients, job ids)."""
    a, b = socket_client(), socket_client()
    return (a, b), (start(a), start(b))


def test_a_start_waits_in_line_with_its_place_and_starts_when_a_slot_frees(socket_client, full, manager, caplog):
    (a, _), (a_job, b_job) = full
    c, d = socket_client(), socket_client()
    first, second = queued(c), queued(d)
    assert (first["position"], first["place"], first["ahead"], second["place"]) == (1, "1st", 0, "2nd")
    assert first["slots"] == 2 and second["waiting"] == 2 and 0 < first["wait"] <= second["wait"]
    assert manager.running_count() == 2 and manager.waiting_count() == 2
    assert a.call("stop", {"job_id": a_job})["ok"]
    began = wait_queue(c, state="started")
    assert began["ticket"] == first["ticket"] and began["page"] == "function"
    assert c.call("watch", {"job_id": began["job_id"]}) == {"ok": True, "job_id": began["job_id"], "owner": True}
    c.wait_state(began["job_id"], "finished")  # its own settings, trained to the end
    assert wait_queue(d, state="queued", position=1)["place"] == "1st"  # d moved up
    no_tracebacks(caplog)


def test_watch_links_keep_working_while_others_wait(socket_client, full):
    _, (a_job, _) = full
    queued(socket_client())
    watcher = socket_client()
    ack = watcher.call("watch", {"job_id": a_job})
    assert ack["ok"] and not ack["owner"]
    watcher.wait_for(lambda w: w.histories(a_job), message="the watched job's history")
    watcher.wait_for(lambda w: w.steps(a_job), message="live steps")
    watcher.wait_steps(a_job, max(watcher.steps(a_job)) + 1)  # and more follow


def test_leaving_the_line_moves_the_others_up(socket_client, full):
    c, d = socket_client(), socket_client()
    queued(c)
    queued(d)
    assert c.call("leave_queue", {}) == {"ok": True, "left": True}
    assert wait_queue(c, state="left")["message"] == "you left the line"
    assert wait_queue(d, state="queued", position=1)
    assert c.call("leave_queue", {}) == {"ok": True, "left": False}
    assert_refused(c, c.call("leave_queue", [1]), "leave_queue", "expected an object")


def test_one_place_per_session_and_bad_settings_are_refused_at_once(socket_client, full, manager):
    c = socket_client()
    queued(c)
    assert_refused(c, c.call("start", {"config": fast_config()}), "start", "already waiting for a training slot (1st")
    tab = socket_client(session=c)  # another tab of the same session sees the place too
    assert tab.payloads("hello")[-1]["queue"]["place"] == "1st"
    d = socket_client()
    ack = d.call("start", {"config": fast_config(lr="fast")})
    assert_refused(d, ack, "start", "lr")
    assert manager.waiting_count() == 1


def test_a_page_that_left_is_passed_over_then_dropped(socket_client, full, manager):
    (a, _), (a_job, _) = full
    c, d = socket_client(), socket_client()
    queued(c)
    queued(d)
    owners = [t.owner for t in manager._line]
    c.disconnect()  # its place is kept for the grace period (0.5 s here), passed over meanwhile
    assert a.call("stop", {"job_id": a_job})["ok"]
    began = wait_queue(d, state="started")
    assert manager.get(began["job_id"]).owner == owners[1]
    wait_until(lambda: manager.waiting_count() == 0, message="the absent page's place to be given up")


def test_the_line_is_first_come_first_served(socket_client, settings, manager):
    holders = [socket_client(), socket_client()]
    jobs = [start(h, long_config()) for h in holders]
    line = [socket_client() for _ in range(5)]
    tickets = [queued(c, fast_config(epochs=2))["ticket"] for c in line]
    for h, job_id in zip(holders, jobs):
        assert h.call("stop", {"job_id": job_id})["ok"]
    started = [wait_queue(c, state="started") for c in line]  # each one's short job ends, the next starts
    assert [s["ticket"] for s in started] == tickets
    assert [s["order"] for s in started] == list(range(1, 6))  # the server's own count of starts from the line
    order = [e.job.id for e in manager._jobs.values()]
    assert [order.index(s["job_id"]) for s in started] == sorted(order.index(s["job_id"]) for s in started)


def test_the_line_in_redis_mode(redis_server, redis_workers, redis_web, live_client):
    """Slots counted across web processes and workers through Redis: the line waits for them too."""
    redis_workers(3)
    url = redis_web(BPNET_MAX_JOBS="2", BPNET_GRACE_SECONDS="1")
    a, b, c = live_client(url), live_client(url), live_client(url)
    jobs = [start(a), start(b)]
    place = queued(c)
    assert place["place"] == "1st" and a.get("/healthz").json()["waiting"] == 1
    assert a.call("stop", {"job_id": jobs[0]})["ok"]
    began = wait_queue(c, state="started")
    assert c.call("watch", {"job_id": began["job_id"]})["owner"]
    c.wait_state(began["job_id"], "finished")
    assert b.call("stop", {"job_id": jobs[1]})["ok"]
