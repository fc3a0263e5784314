"""JobManager and the thread backend without Socket.IO: a fake emit records messages, a fake spawn runs relays
in threads."""
import threading
import time

import pytest

from bpnet.engine.config import ConfigError
from bpnet.engine.job import Job
from support import fast_config, long_config, wait_until
from web.backends import LocalBackend, LocalJob
from web.jobs import JobManager, ServiceError, room_of


class Fake:
    """emit/spawn stand-ins: messages are kept as (event, data, room); spawned functions run in daemon threads."""

    def __init__(self):
        self.messages, self.threads = [], []
        self.lock = threading.Lock()

    def emit(self, event, data, room):
        with self.lock:
            self.messages.append((event, data, room))

    def spawn(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def batches(self, room):
        with self.lock:
            return [d for e, d, r in self.messages if r == room and e == "events"]


@pytest.fixture
def fake():
    return Fake()


@pytest.fixture
def make_manager(fake):
    made = []

    def make(**options):
        flush = options.pop("flush_interval", 0.05)
        m = JobManager(LocalBackend(fake.emit, fake.spawn, flush),
                       **{"max_running": 2, "grace_seconds": 0.2, "keep_finished": 3, **options})
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop_all(timeout=10)
    for t in fake.threads:
        t.join(5)


def run_to_end(manager, owner, **config):
    job = manager.start(owner, config=fast_config(**config))
    assert job.wait(20)
    return job


# --- limits -----------------------------------------------------------------------------------------
def test_limits_busy_and_one_job_per_owner(make_manager):
    m = make_manager()
    a = m.start("a", config=long_config())
    m.start("b", config=long_config())
    with pytest.raises(ServiceError, match="server busy, try again"):
        m.start("c", config=fast_config())
    with pytest.raises(ServiceError, match="already have a job running"):
        m.start("a", config=fast_config())
    assert len(m._jobs) == 2 and m.running_count() == 2
    a.stop()
    assert a.wait(10) and m.running_count() == 1
    c = m.start("c", config=fast_config())
    assert c.wait(20) and c.state == "finished"
    assert m.start("a", config=fast_config()).wait(20)  # a's stopped job no longer counts


def test_concurrent_starts_never_exceed_the_limit(make_manager):
    m = make_manager(max_running=2)
    results = []
    barrier = threading.Barrier(8)

    def attempt(owner):
        barrier.wait()
        try:
            results.append(m.start(owner, config=long_config()))
        except ServiceError as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt, args=(f"client{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    started = [r for r in results if isinstance(r, LocalJob)]
    assert len(results) == 8 and len(started) == 2 and m.running_count() == 2
    assert all("server busy" in str(r) for r in results if not isinstance(r, LocalJob))


def test_a_job_being_started_counts_once(make_manager):
    """Between recording a new job and ending its start, its owner is both running and starting: one slot."""
    m = make_manager(max_running=2)
    m.start("b", config=long_config())
    m._starting.append("b")  # b's start not quite over yet
    assert m.start("c", config=long_config()).state == "running"  # not 'server busy (2 of 2)'


def test_a_bad_config_creates_nothing_and_releases_the_slot(make_manager):
    m = make_manager(max_running=1)
    with pytest.raises(ConfigError) as info:
        m.start("a", config={"formula": "sin(", "epochs": 0})
    assert set(info.value.errors) == {"formula", "epochs"}
    with pytest.raises(ConfigError):
        m.start("a", comparison="no-such-comparison")
    assert m._jobs == {} and m._starting == []
    assert m.start("a", config=fast_config()).wait(20)


# --- ownership ------------------------------------------------------------------------------------
def test_ownership(make_manager):
    m = make_manager()
    job = m.start("a", config=long_config())
    assert m.owned("a", job.id).job is job
    assert m.get(job.id).owner == "a"
    with pytest.raises(ServiceError, match="belongs to another session"):
        m.owned("b", job.id)
    for bad in ("nope", "", None, 5, ["x"], job.id + "x"):
        with pytest.raises(ServiceError, match="unknown job id"):
            m.get(bad)
        with pytest.raises(ServiceError, match="unknown job id"):
            m.owned("a", bad)
    assert job.state == "running"


# --- pruning and shutdown ---------------------------------------------------------------------------------
def test_finished_jobs_beyond_keep_finished_are_forgotten_oldest_first(make_manager):
    m = make_manager(keep_finished=2, max_running=3)
    runner = m.start("long", config=long_config())  # the oldest entry, but running: never pruned
    ended = [run_to_end(m, f"c{i}") for i in range(4)]
    m.start("next", config=fast_config()).wait(20)  # pruning happens when a job starts
    ids = list(m._jobs)
    assert runner.id in ids
    assert [j.id for j in ended if j.id in ids] == [j.id for j in ended[-2:]]
    with pytest.raises(ServiceError, match="unknown job id"):
        m.get(ended[0].id)
    assert len([i for i in ids if m.get(i).job.done]) <= 3  # keep_finished + the one that just ended


def test_stop_all_stops_and_waits_for_every_job(make_manager):
    m = make_manager()
    jobs = [m.start("a", config=long_config()), m.start("b", config=long_config())]
    jobs[1].pause()
    m.stop_all(timeout=10)
    assert [j.state for j in jobs] == ["stopped", "stopped"] and m.running_count() == 0
    assert [j.message for j in jobs] == ["stopped: the server was shut down"] * 2  # not "by the user"
    m.stop_all(timeout=1)  # idempotent


def test_stop_all_ends_a_job_stuck_in_a_step_and_its_watchers_are_told(make_manager, fake, monkeypatch):
    """A threads-mode job whose step outlasts the shutdown's patience still reaches a final state on the page."""
    m = make_manager()
    job = m.start("a", config=long_config())
    wait_until(lambda: job.trainers[0].step > 3, message="a few steps")
    in_step, release = threading.Event(), threading.Event()

    def stuck(self):
        in_step.set()
        release.wait(30)
    monkeypatch.setattr(type(job.trainers[0].optimizer), "step", stuck)
    assert in_step.wait(10)
    m.stop_all(timeout=0.3)
    assert job.state == "stopped" and job.message == "stopped: the server was shut down in the middle of a training step"
    states = [e for b in fake.batches(room_of(job.id)) for e in b if e["type"] == "state"]
    assert states[-1]["state"] == "stopped" and "in the middle of a training step" in states[-1]["message"]
    release.set()  # the step ends: the job stays as it was announced
    assert job.wait(10) and job.message.endswith("in the middle of a training step")


# --- grace period -----------------------------------------------------------------------------------
def test_orphaned_jobs_stop_after_the_grace_period(make_manager):
    m = make_manager(grace_seconds=0.2)
    m.connected("a", "sid1")
    job = m.start("a", config=long_config())
    m.disconnected("a", "sid1")
    assert job.state == "running"
    wait_until(lambda: job.state == "stopped", message="the orphan to stop")
    assert "a" not in m._orphan_timers
    assert job.message == "stopped: its page was closed and did not come back within 0.2 s"


def test_reconnecting_or_another_tab_keeps_the_job(make_manager):
    m = make_manager(grace_seconds=0.2)
    m.connected("a", "tab1")
    m.connected("a", "tab2")
    job = m.start("a", config=long_config())
    m.disconnected("a", "tab1")  # another tab still open: no timer at all
    assert "a" not in m._orphan_timers
    m.disconnected("a", "tab2")
    assert "a" in m._orphan_timers
    m.connected("a", "tab3")  # back within the grace period
    assert "a" not in m._orphan_timers
    time.sleep(0.4)
    assert job.state == "running"


def test_disconnect_without_running_jobs_sets_no_timer(make_manager):
    m = make_manager()
    m.connected("a", "s")
    run_to_end(m, "a")
    m.disconnected("a", "s")
    m.disconnected("never-connected", "x")  # harmless
    assert m._orphan_timers == {} and m._connections == {}


def test_orphan_timer_leaves_other_clients_alone(make_manager):
    m = make_manager(grace_seconds=0.1)
    m.connected("a", "1")
    m.connected("b", "2")
    a, b = m.start("a", config=long_config()), m.start("b", config=long_config())
    m.disconnected("a", "1")
    wait_until(lambda: a.state == "stopped", message="a's job to stop")
    assert b.state == "running"


# --- relay ----------------------------------------------------------------------------------------
def test_relay_batches_every_event_at_the_flush_interval_and_ends_with_the_job(fake):
    job = Job(fast_config(epochs=300))  # 1200 steps
    local = LocalJob(job, fake.emit, flush_interval=0.05)
    relay = local.relay
    thread = fake.spawn(local.run_relay)
    t0 = time.monotonic()
    job.start()
    thread.join(20)
    elapsed = time.monotonic() - t0
    assert not thread.is_alive() and job.state == "finished"
    batches = fake.batches(room_of(job.id))
    assert relay.sent == len(batches) <= elapsed / 0.05 + 2
    events = [e for b in batches for e in b]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # all of them, once, in order
    assert events[-1]["type"] == "state" and events[-1]["state"] == "finished"
    assert [s for e in events if e["type"] == "steps" for s in e["step"]] == list(range(1, 1201))
    assert job._subscribers == {}  # the relay unsubscribed
    assert local.history_event()["state"] == "finished" and not hasattr(local._target, "trainers")  # archived


def test_relay_attach_sends_the_history_before_any_later_event(fake):
    job = Job(long_config())
    local = LocalJob(job, fake.emit, flush_interval=0.02)
    relay = local.relay
    fake.spawn(local.run_relay)
    job.start()
    wait_until(lambda: relay.sent >= 3, message="some flushes")
    order = []
    local.attach(lambda: order.append("join"), "sid-1")
    with fake.lock:
        order += [d for e, d, to in fake.messages if e == "history" and to == "sid-1"]
    with fake.lock:
        n = len(fake.messages)
    wait_until(lambda: relay.sent >= 3 + 2 and len(fake.batches(room_of(job.id))) > n, message="later flushes")
    job.stop()
    job.wait(10)
    assert order[0] == "join" and order[1]["type"] == "history"
    history_seq = order[1]["seq"]
    with fake.lock:
        later = [e for _, d, _ in fake.messages[n:] for e in d]
    assert later and later[-1]["seq"] > history_seq
    fresh = [e["seq"] for e in later if e["seq"] > history_seq]
    assert fresh == list(range(history_seq + 1, history_seq + 1 + len(fresh)))
