"""The Socket.IO protocol end to end (flask_socketio test clients against a real app and real jobs)."""
import json
import logging
import time

import pytest

from support import TINY_MNIST, fast_config, long_config, wait_until

TERMINAL = ("finished", "stopped", "failed")


def start(client, config=None, **extra):
    ack = client.call("start", {"config": config if config is not None else long_config(), **extra})
    assert ack["ok"], ack
    return ack["job_id"]


def job_of(manager, job_id):
    return manager.get(job_id).job


def no_tracebacks(caplog):
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def assert_refused(client, ack, event, *words):
    """ack is {ok: False, message} and the same refusal arrived as an 'error' event (sent before the ack)."""
    assert ack["ok"] is False, ack
    assert isinstance(ack["message"], str) and ack["message"], ack
    text = ack["message"] + " " + json.dumps(ack.get("errors", {}))
    for w in words:
        assert w in text, ack
    errors = [m["args"][0] for m in client.new_messages("error")]
    assert errors and errors[-1] == {"event": event, **{k: v for k, v in ack.items() if k != "ok"}}, (errors, ack)
    return ack


def strict_json(value):
    """The value as JSON with NaN/Infinity forbidden (raises ValueError if any reached the client)."""
    return json.dumps(value, allow_nan=False)


# --- start, history, events ----------------------------------------------------------------------
def test_start_acks_then_history_then_every_kind_of_event(socket_client, manager):
    a = socket_client()
    hello = a.payloads("hello")
    assert hello and hello[0]["max_running"] == 2
    ack = a.call("start", {"config": fast_config(epochs=150)})
    assert ack["ok"] is True and isinstance(ack["job_id"], str)
    assert ack["watch_url"] == f"/watch/{ack['job_id']}"
    job_id = ack["job_id"]
    a.wait_state(job_id, "finished")

    names = [m["name"] for m in a.messages() if m["name"] in ("history", "events")]
    assert names[0] == "history" and "events" in names
    history = a.histories(job_id)[0]
    assert history["type"] == "history" and history["job_id"] == job_id and history["kind"] == "train"
    assert history["runs"][0]["dataset"]["task"] == "function"
    types = {e["type"] for e in a.events(job_id)}
    assert {"state", "dataset", "steps", "norms", "snapshot", "done"} <= types
    done = a.wait_event(job_id, "done")
    assert done["steps"] == job_of(manager, job_id).history()["runs"][0]["total_steps"] == 600
    assert {"train_loss", "val_loss", "seconds"} <= done.keys()
    norms = a.events(job_id, "norms")[0]
    assert len(norms["names"]) == len(norms["grad"]) == len(norms["weight"]) == 2
    assert "y_pred" in a.events(job_id, "snapshot")[-1]


def test_pause_stops_the_steps_and_resume_continues(socket_client, manager):
    a = socket_client()
    job_id = start(a)
    job = job_of(manager, job_id)
    a.wait_steps(job_id, 5)
    ack = a.call("pause", {"job_id": job_id})
    assert ack == {"ok": True, "state": "paused"}
    paused = a.wait_state(job_id, "paused")
    paused_at = paused["steps"][0]  # the step under way when pause came was finished: no step after this one
    assert paused_at == job.trainers[0].step
    a.wait_steps(job_id, paused_at)  # the job flushes every step done before the pause
    time.sleep(0.3)  # (checking that nothing happens for a while)
    assert job.trainers[0].step == paused_at and max(a.steps(job_id)) == paused_at
    assert a.call("pause", {"job_id": job_id})["ok"] is False  # already paused

    assert a.call("resume", {"job_id": job_id}) == {"ok": True, "state": "running"}
    a.wait_event(job_id, "state", lambda e: e["state"] == "running" and e["seq"] > paused["seq"])
    a.wait_steps(job_id, paused_at + 5)
    steps = a.steps(job_id)
    assert steps == list(range(1, len(steps) + 1))  # no step lost or repeated around the pause


def test_set_lr_is_announced_and_used_by_the_following_steps(socket_client, manager):
    a = socket_client()
    job_id = start(a)
    a.wait_steps(job_id, 5)
    ack = a.call("set_lr", {"job_id": job_id, "lr": 0.003})
    assert ack == {"ok": True, "lr": 0.003}
    lr_event = a.wait_event(job_id, "lr")
    assert lr_event["lr"] == pytest.approx(0.003)
    a.wait_event(job_id, "steps", lambda e: e["seq"] > lr_event["seq"])
    later = [e for e in a.events(job_id, "steps") if e["seq"] > lr_event["seq"]]
    assert later and all(e["lr"] == pytest.approx(0.003) for e in later)
    assert job_of(manager, job_id).trainers[0].optimizer.lr == pytest.approx(0.003)
    # a string holding a number is accepted too (form fields)
    assert a.call("set_lr", {"job_id": job_id, "lr": "0.002"}) == {"ok": True, "lr": 0.002}
    a.wait_event(job_id, "lr", lambda e: e["lr"] == pytest.approx(0.002))


def test_stop_ends_the_job_and_frees_the_client(socket_client, manager):
    a = socket_client()
    job_id = start(a)
    a.wait_steps(job_id, 3)
    assert a.call("stop", {"job_id": job_id})["ok"] is True
    state = a.wait_state(job_id, *TERMINAL)
    assert state["state"] == "stopped" and state["message"] == "stopped by the user"
    job = job_of(manager, job_id)
    assert job.state == "stopped"
    wait_until(lambda: max(a.steps(job_id)) == job.history()["runs"][0]["step"], message="the last steps")
    # stopping again is harmless; other controls are refused clearly
    assert a.call("stop", {"job_id": job_id})["ok"] is True
    assert_refused(a, a.call("resume", {"job_id": job_id}), "resume", "stopped")
    assert_refused(a, a.call("set_lr", {"job_id": job_id, "lr": 0.1}), "set_lr", "stopped")
    assert a.call("start", {"config": fast_config()})["ok"] is True


# --- sessions: isolation, tabs, watching, reconnecting -------------------------------------------------
def test_clients_are_isolated_and_cannot_control_each_others_jobs(socket_client, manager):
    a, b = socket_client(), socket_client()
    job_id = start(a)
    job = job_of(manager, job_id)
    a.wait_steps(job_id, 20)
    assert b.events() == [] and b.histories() == []
    for action, extra in (("pause", {}), ("stop", {}), ("set_lr", {"lr": 0.5}), ("resume", {})):
        ack = b.call(action, {"job_id": job_id, **extra})
        assert_refused(b, ack, action, "belongs to another session")
    assert job.state == "running" and job.trainers[0].base_lr == pytest.approx(0.01) and job._pending_lr is None
    assert a.events(job_id, "lr") == [] and a.errors() == []
    # b's own job does not leak to a either
    b_job = start(b, fast_config())
    b.wait_state(b_job, "finished")
    assert a.events(b_job) == [] and a.histories(b_job) == []


def test_second_tab_of_the_same_session_is_the_owner(socket_client, manager):
    a = socket_client()
    job_id = start(a)
    tab = socket_client(session=a)
    assert tab.call("watch", {"job_id": job_id})["owner"] is True
    assert tab.call("pause", {"job_id": job_id}) == {"ok": True, "state": "paused"}
    a.wait_state(job_id, "paused")
    tab.wait_state(job_id, "paused")
    assert tab.call("resume", {"job_id": job_id})["ok"] is True
    # the session's one-job limit spans its tabs
    assert_refused(tab, tab.call("start", {"config": fast_config()}), "start", "already have a job running")


def test_watcher_gets_history_then_live_events_read_only(socket_client, manager):
    a, w = socket_client(), socket_client()
    job_id = start(a)
    a.wait_steps(job_id, 30)
    ack = w.call("watch", {"job_id": job_id})
    assert ack == {"ok": True, "job_id": job_id, "owner": False}
    history = w.wait_for(lambda c: c.histories(job_id), message="history")[0]
    assert history["state"] == "running" and history["runs"][0]["steps"]["step"][-1] >= 30
    first = [m["name"] for m in w.messages() if m["name"] in ("history", "events")]
    assert first[0] == "history"
    w.wait_event(job_id, "steps", lambda e: e["seq"] > history["seq"])
    assert_refused(w, w.call("pause", {"job_id": job_id}), "pause", "belongs to another session")
    assert job_of(manager, job_id).state == "running"


def check_continuity(history, events):
    """Events after dedupe by seq continue the history exactly: seq history.seq+1, +2, ... and steps too."""
    later = sorted({e["seq"]: e for e in events if e["seq"] > history["seq"]}.values(), key=lambda e: e["seq"])
    seqs = [e["seq"] for e in later]
    assert seqs[0] == history["seq"] + 1
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    steps = [s for e in later if e["type"] == "steps" for s in e["step"]]
    reported = history["runs"][0]["steps"]["step"]
    assert steps[0] == (reported[-1] + 1 if reported else 1)
    assert steps == list(range(int(steps[0]), int(steps[0]) + len(steps)))


def test_reconnect_within_grace_keeps_the_job_and_continues_the_sequence(socket_client, manager, settings):
    a = socket_client()
    job_id = start(a)
    job = job_of(manager, job_id)
    a.wait_steps(job_id, 10)
    a.disconnect()
    back = socket_client(session=a)  # a page reload: same cookie, new connection, well inside the grace
    assert back.call("watch", {"job_id": job_id}) == {"ok": True, "job_id": job_id, "owner": True}
    history = back.wait_for(lambda c: c.histories(job_id), message="history")[0]
    time.sleep(settings["GRACE_SECONDS"] + 0.3)  # the grace period would have run out by now
    assert job.state == "running"
    back.wait_event(job_id, "steps", lambda e: e["seq"] > history["seq"] + 5)
    check_continuity(history, back.events(job_id))
    assert back.call("pause", {"job_id": job_id})["ok"] is True


def test_watch_history_and_events_are_continuous_for_a_busy_job(socket_client, manager):
    a, w = socket_client(), socket_client()
    job_id = start(a)
    for _ in range(3):  # joining at different moments of the relay's cycle
        a.wait_steps(job_id, max(a.steps(job_id), default=0) + 10)
        before = len(w.histories(job_id))
        w.call("watch", {"job_id": job_id})
        history = w.wait_for(lambda c: c.histories(job_id)[before:], message="history")[0]
        w.wait_event(job_id, "steps", lambda e: e["seq"] > history["seq"] + 3)
        check_continuity(history, w.events(job_id))


# --- grace period ---------------------------------------------------------------------------------
def test_job_of_a_client_that_does_not_return_is_stopped_after_the_grace(socket_client, manager, settings):
    a = socket_client()
    job_id = start(a)
    job = job_of(manager, job_id)
    a.wait_steps(job_id, 3)
    left = time.monotonic()
    a.disconnect()
    assert job.state == "running"
    wait_until(lambda: job.state == "stopped", message="the orphan job to stop")
    assert time.monotonic() - left >= settings["GRACE_SECONDS"] * 0.9
    assert manager.running_count() == 0


def test_job_keeps_running_while_another_tab_is_open(socket_client, manager, settings):
    a = socket_client()
    job_id = start(a)
    tab = socket_client(session=a)
    a.disconnect()
    time.sleep(settings["GRACE_SECONDS"] + 0.3)
    assert job_of(manager, job_id).state == "running"
    tab.disconnect()
    wait_until(lambda: job_of(manager, job_id).state == "stopped", message="the job to stop once all tabs left")


# --- rate limiting and completeness ------------------------------------------------------------------
def test_at_most_ten_event_messages_a_second_and_every_step_arrives(socket_client, manager, settings):
    assert settings["FLUSH_INTERVAL"] == 0.1
    a = socket_client()
    t0 = time.monotonic()
    job_id = start(a, fast_config(epochs=400))  # 1600 steps: about a second
    a.wait_state(job_id, "finished")
    elapsed = time.monotonic() - t0
    messages = a.batches(job_id)
    assert len(messages) <= elapsed / settings["FLUSH_INTERVAL"] + 2, (len(messages), elapsed)
    assert len(messages) >= 2  # batched, yet live
    steps = [s for batch in messages for e in batch if e["type"] == "steps" for s in e["step"]]
    assert steps == list(range(1, 1601))  # every step once, in order, although messages are rate limited
    for batch in messages:
        assert all(e["job_id"] == job_id for e in batch)
        seqs = [e["seq"] for e in batch]
        assert seqs == sorted(seqs)


# --- divergence -------------------------------------------------------------------------------------
DIVERGING = {"task": "function", "formula": "x^3", "x_min": -100, "x_max": 100, "n_samples": 40, "hidden": [4],
             "batch_size": 8, "epochs": 50, "optimizer": "sgd", "lr": 10, "normalize_inputs": False}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_job_fails_clearly_without_nan_reaching_the_client(socket_client, manager, http, caplog):
    a = socket_client()
    job_id = start(a, DIVERGING)
    job = job_of(manager, job_id)
    assert job.wait(10) and job.state == "failed"
    assert "lower learning rate" in job.message
    # the failure reaches the client as a 'failed' state (live, or in the history if the job ended first)
    a.wait_for(lambda c: any(e["state"] == "failed" for e in c.events(job_id, "state"))
               or c.histories(job_id)[-1]["state"] == "failed", message="the failure")
    w = socket_client()
    w.call("watch", {"job_id": job_id})
    history = w.wait_for(lambda c: c.histories(job_id), message="history")[0]
    assert history["state"] == "failed" and "lower learning rate" in history["message"]
    for client in (a, w):
        for m in client.messages():
            strict_json(m["args"])  # raises if a NaN or an infinity was sent
    assert "lower learning rate" in history["runs"][0]["failure"]
    resp = http.get(f"/jobs/{job_id}/history.json")
    json.loads(resp.data, parse_constant=lambda c: pytest.fail(f"{c} in history.json"))
    # the controls are back: the same client starts again right away
    assert a.call("start", {"config": fast_config()})["ok"] is True
    no_tracebacks(caplog)


# --- limits ---------------------------------------------------------------------------------------------
def test_server_busy_and_one_running_job_per_client(socket_client, manager):
    a, b, c = socket_client(), socket_client(), socket_client()
    a_job, b_job = start(a), start(b)
    jobs = len(manager._jobs)
    ack = c.call("start", {"config": fast_config()})  # every slot busy: it waits in line (tests/web/test_queue.py)
    assert ack["ok"] and ack["queued"] and ack["place"] == "1st"
    assert len(manager._jobs) == jobs == 2
    assert_refused(a, a.call("start", {"config": fast_config()}), "start", "already have a job running")
    assert len(manager._jobs) == 2
    # a stopped job frees its slot: the one waiting takes it
    a.call("stop", {"job_id": a_job})
    a.wait_state(a_job, "stopped")
    c_job = c.wait_for(lambda c: [q for q in c.payloads("queue") if q["state"] == "started"])[0]["job_id"]
    assert c.call("watch", {"job_id": c_job})["owner"]
    # (its 20 steps may end before the watch: then its history, not a 'state' event, tells c that it finished)
    wait_until(lambda: job_of(manager, c_job).state == "finished", message="the job from the line to finish")
    # and so does a finished one
    start(a, fast_config())
    assert manager.running_count() <= 2 and job_of(manager, b_job).state == "running"


# --- predict ------------------------------------------------------------------------------------------
def test_predict_on_an_mnist_job(socket_client, manager):
    a, w = socket_client(), socket_client()
    job_id = start(a, TINY_MNIST)
    a.wait_state(job_id, "finished", timeout=60)
    pixels = [0.0] * 784
    for i in range(8, 20):
        pixels[28 * i + 14] = 1.0  # a vertical stroke: a "1"
    ack = a.call("predict", {"job_id": job_id, "pixels": pixels})
    assert ack["ok"] is True and len(ack["probs"]) == 10
    assert all(0 <= p <= 1 for p in ack["probs"]) and sum(ack["probs"]) == pytest.approx(1, abs=1e-5)
    assert w.call("predict", {"job_id": job_id, "pixels": [1] * 784})["ok"] is True  # watchers may ask too

    bad = [pixels[:783], pixels + [0.0], ["0.5"] * 784, [True] * 784, [None] * 784, [[0.0] * 28] * 28,
           [float("nan")] * 784, [float("inf")] * 784, [2.0] * 784, [-1] * 784, [10 ** 90] * 784, "pixels", None]
    for value in bad:
        assert_refused(a, a.call("predict", {"job_id": job_id, "pixels": value}), "predict", "784")
    for run in (1, -1, "0", None, 1.5):
        assert_refused(a, a.call("predict", {"job_id": job_id, "pixels": pixels, "run": run}), "predict", "run")
    fn_job = start(w, fast_config())
    assert_refused(a, a.call("predict", {"job_id": fn_job, "pixels": pixels}), "predict", "MNIST")


# --- malformed payloads -------------------------------------------------------------------------------
NOTHING = object()  # emit the event with no payload at all
BIG = "x" * 1_000_000
GARBAGE = [NOTHING, None, [], [1, 2], 42, 3.5, True, "text", BIG, {}, {"job_id": None}, {"job_id": 5},
           {"job_id": True}, {"job_id": ["a"]}, {"job_id": {"a": 1}}, {"job_id": ""}, {"job_id": BIG},
           {"job_id": "no-such-job"}]


def send(client, event, payload):
    return client.call(event) if payload is NOTHING else client.call(event, payload)


def describe(payload):
    return "nothing" if payload is NOTHING else repr(payload)[:60]


@pytest.fixture
def victim(socket_client, manager):
    """Another session's running job, which no bad request may change."""
    owner = socket_client()
    job_id = start(owner)
    owner.wait_steps(job_id, 2)
    job = job_of(manager, job_id)
    yield job_id
    assert job.state == "running" and job.trainers[0].base_lr == pytest.approx(0.01) and job._pending_lr is None
    assert owner.errors() == [] and owner.events(job_id, "lr") == []


@pytest.mark.parametrize("event", ["watch", "pause", "resume", "stop", "set_lr", "predict"])
def test_malformed_payloads_are_refused_clearly(event, socket_client, manager, victim, caplog):
    c = socket_client()
    cases = list(GARBAGE)
    if event in ("pause", "resume", "stop", "set_lr"):
        cases.append({"job_id": victim, "lr": 0.5})  # someone else's job
    if event == "predict":
        cases.append({"job_id": victim, "pixels": [0.5] * 784})  # not an MNIST job
    for payload in cases:
        ack = send(c, event, payload)
        try:
            assert_refused(c, ack, event)
        except AssertionError as exc:
            raise AssertionError(f"{event} {describe(payload)}: {exc}") from None
        if payload == {"job_id": victim, "lr": 0.5}:
            assert "belongs to another session" in ack["message"]
    assert_refused(c, c.call(event, {"job_id": victim}, "extra"), event, "one object")
    assert len(ack["message"]) < 200 and c.histories() == [] and c.events() == []
    no_tracebacks(caplog)


def test_ping_answers_and_refuses_non_objects(socket_client, caplog):
    c = socket_client()
    for payload in (NOTHING, None, {}, {"anything": 1}):
        ack = send(c, "ping", payload)
        assert ack["ok"] is True and abs(ack["t"] - time.time()) < 60
    for payload in ([], 42, True, "text", BIG):
        assert_refused(c, send(c, "ping", payload), "ping", "expected an object")
    no_tracebacks(caplog)


START_GARBAGE = [
    (NOTHING, "expected an object"), (None, "expected an object"), ([], "expected an object"), (42, "object"),
    ("text", "object"), (BIG, "object"), (True, "object"),
    ({"config": None}, "config must be an object"), ({"config": []}, "config"), ({"config": BIG}, "config"),
    ({"config": 5}, "config"), ({"comparison": 5}, "comparison"), ({"comparison": ["dropout"]}, "comparison"),
    ({"comparison": "nope"}, "unknown comparison"), ({"comparison": BIG}, "unknown comparison"),
    ({"config": {"formula": BIG}}, "at most 200 characters"), ({"config": {"task": "nope"}}, "task"),
    ({"config": {"task": ["function"]}}, "task"), ({"config": {"formula": "sin(q)"}}, "column"),
    ({"config": {"epochs": float("inf")}}, "finite"), ({"config": {"epochs": float("nan")}}, "epochs"),
    ({"config": {"seed": 10 ** 99}}, "seed"), ({"config": {"hidden": BIG}}, "hidden"),
    ({"config": {"hidden": [4] * 100}}, "hidden"), ({"config": {BIG: 1}}, "unknown setting"),
    ({"config": {"batch_size": None}}, "batch_size"), ({"config": {"x_min": 5, "x_max": 1}}, "x_max"),
    ({"config": {"lr": [0.1]}}, "lr"), ({"config": {"batch_norm": "maybe"}}, "batch_norm"),
    ({"comparison": "dropout", "config": {"epochs": 0}}, "epochs"),
]


def test_malformed_start_creates_no_job(socket_client, manager, victim, caplog):
    c = socket_client()
    jobs = set(manager._jobs)
    for payload, words in START_GARBAGE:
        ack = send(c, "start", payload)
        try:
            assert_refused(c, ack, "start", words)
        except AssertionError as exc:
            raise AssertionError(f"start {describe(payload)}: {exc}") from None
        assert len(json.dumps(ack)) < 2000, "the reply must not echo a huge input"
    assert set(manager._jobs) == jobs and manager._starting == []
    assert c.call("start", {"config": fast_config()})["ok"] is True  # nothing was left reserved
    no_tracebacks(caplog)


def test_config_errors_come_back_field_by_field(socket_client):
    c = socket_client()
    ack = c.call("start", {"config": {"formula": "sin(3*x) + q", "lr": "fast", "epochs": 0, "colour": "red"}})
    assert_refused(c, ack, "start")
    assert ack["message"].startswith("invalid settings: ")
    errors = ack["errors"]
    assert set(errors) == {"formula", "lr", "epochs", "colour"}
    assert "column" in errors["formula"] and "q" in errors["formula"]
    assert "number" in errors["lr"] and "between 1 and" in errors["epochs"] and errors["colour"] == "unknown setting"


def test_set_lr_validates_the_rate(socket_client, manager, caplog):
    c = socket_client()
    job_id = start(c)
    job = job_of(manager, job_id)
    for lr in (NOTHING, None, "abc", "", [], {}, True, 0, -1, 10.5, float("inf"), float("nan"), "nan", "inf",
               "1" * 1_000_000, BIG, 10 ** 99):
        payload = {"job_id": job_id} if lr is NOTHING else {"job_id": job_id, "lr": lr}
        ack = c.call("set_lr", payload)
        try:
            assert_refused(c, ack, "set_lr")
            assert "lr" in ack["message"] or "learning rate" in ack["message"]
        except AssertionError as exc:
            raise AssertionError(f"set_lr {describe(lr)}: {exc}") from None
        assert len(ack["message"]) < 200
    assert job._pending_lr is None and job.trainers[0].base_lr == pytest.approx(0.01)
    assert c.events(job_id, "lr") == []
    no_tracebacks(caplog)
