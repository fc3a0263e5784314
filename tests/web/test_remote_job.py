"""RemoteJob, the web process's view of a job hosted elsewhere, without sockets or workers: what it keeps and
relays once its host is declared lost."""
from bpnet.engine.job import Job
from bpnet.engine.replay import EventLog
from web.backends import RemoteJob

from support import fast_config


def test_events_still_on_their_way_from_a_lost_host_are_dropped():
    job = Job(fast_config(epochs=20))
    events = []
    job.subscribe(events.append)
    job.start()
    assert job.wait(30)
    first = next(i for i, e in enumerate(events) if e["type"] == "steps")
    before, late = events[:first + 1], events[first + 1:]  # the host dies after its first report of steps
    assert any(e["type"] == "done" for e in late)  # (the rest: its end, and more steps if it reported them apart)

    sent = []
    remote = RemoteJob(job.id, "train", [job.config], send_request=lambda m: None,
                       emit=lambda name, data, to: sent.append((name, data)), flush_interval=0.1)
    for e in before:
        remote.receive({"kind": "event", "event": e})
    remote.fail("the worker process training this job died")
    for e in late:  # relayed after the failure was declared (the route thread lagging behind the watch thread)
        remote.receive({"kind": "event", "event": e})
    remote.relay.flush()

    relayed = [e for name, batch in sent if name == "events" for e in batch]
    assert relayed[-1]["state"] == "failed"  # and nothing after it
    assert relayed[:-1] == [e for e in before if e["type"] != "history"]
    expected = EventLog(job.id)
    for e in relayed:
        expected.add(e)
    assert remote.state == "failed" and remote.history() == expected.history()
    assert remote.history_csv(0) == expected.history_csv(0)
    assert len(remote.history_csv(0).splitlines()) == len(events[first]["step"]) + 1
