"""How a Job delivers its events: outside its locks, in order, so a listener may call any of its methods."""
import threading

import numpy as np

from bpnet.engine.job import TERMINAL, Job, JobError

ENDLESS = {"task": "function", "formula": "sin(3*x)", "n_samples": 2000, "hidden": [16], "batch_size": 8,
           "epochs": 5000}
X = np.linspace(-1, 1, 5, dtype=np.float32).reshape(-1, 1)


def test_a_listener_may_call_predict_on_every_event_while_another_thread_pauses_and_resumes():
    """The contract of Job.subscribe: listeners run outside the locks. Before, the first pause() deadlocked:
    it emitted its state event holding the state lock, the listener's predict() waited for the model lock,
    held by the training step, which waited for the state lock."""
    job = Job(ENDLESS)  # not a fixture that stops it at teardown: a deadlocked job cannot be stopped
    seen, states, predictions, errors = [], [], [], []
    paused = threading.Event()

    def listener(event):
        seen.append(event["seq"])
        states.append(event.get("state") if event["type"] == "state" else None)
        predictions.append(job.predict(X))
        if event["type"] == "state" and event["state"] == "paused":
            paused.set()

    job.subscribe(listener)
    job.start()

    def controls():
        try:
            for _ in range(40):
                paused.clear()
                job.pause()
                assert paused.wait(10), "the paused state never reached the listener"
                job.model_npz()
                job.set_lr(0.005)
                job.resume()
        except (AssertionError, JobError) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=controls, daemon=True)]
    threads.append(threading.Thread(target=lambda: [job.history_event() for _ in range(200)], daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a control deadlocked with a listener calling predict()"
    assert not errors, errors
    job.stop()
    assert job.wait(20) and job.state == "stopped", "the job did not end: deadlocked"
    assert seen == list(range(0, len(seen)))  # the history (seq 0), then every event once, in order
    assert states.count("paused") == 40 and states.count("running") == 41 and states[-1] == "stopped"
    assert all(p.shape == (5, 1) and np.isfinite(p).all() for p in predictions)


def test_a_listener_may_pause_stop_and_subscribe_from_inside_its_call():
    job = Job(ENDLESS)
    late = []

    def listener(event):
        if event["type"] == "steps" and job.state == "running" and not late:
            job.pause()
            job.subscribe(late.append)  # from the delivering thread: its history comes after this event
        elif event["type"] == "state" and event["state"] == "paused":
            job.stop()

    job.subscribe(listener)
    job.start()
    assert job.wait(20) and job.state in TERMINAL
    assert late[0]["type"] == "history" and [e["seq"] for e in late[1:]] == list(
        range(late[0]["seq"] + 1, late[0]["seq"] + len(late)))
