"""Socket controls added for people watching a run: the live speed (set_pace), and a refused second start
that says which run is going and where it is."""
import pytest

from support import fast_config, long_config


def start(client, config=None):
    ack = client.call("start", {"config": config if config is not None else long_config()})
    assert ack["ok"], ack
    return ack["job_id"]


def refused(client, ack, event):
    """ack is {ok: False, message, ...} and the same refusal arrived as an 'error' event."""
    assert ack["ok"] is False and ack["message"], ack
    errors = [m["args"][0] for m in client.new_messages("error")]
    assert errors and errors[-1] == {"event": event, **{k: v for k, v in ack.items() if k != "ok"}}, (errors, ack)
    return ack


def test_set_pace_is_announced_and_changes_the_speed_mid_run(socket_client, manager):
    a = socket_client()
    job_id = start(a, fast_config(epochs=100, pace=1))  # 400 steps at one a second
    a.wait_steps(job_id, 1)
    assert a.call("set_pace", {"job_id": job_id, "pace": 0}) == {"ok": True, "pace": 0}
    event = a.wait_event(job_id, "pace")
    assert event["pace"] == 0 and event["run"] == 0
    a.wait_state(job_id, "finished")  # the rest at full speed
    assert a.call("set_pace", {"job_id": job_id, "pace": "30"})["ok"] is False  # it has ended


def test_set_pace_is_for_the_owner_and_validated_by_the_schema(socket_client, manager):
    a, b = socket_client(), socket_client()
    job_id = start(a, long_config(pace=50))
    a.wait_steps(job_id, 1)
    assert "belongs to another session" in refused(b, b.call("set_pace", {"job_id": job_id, "pace": 0}), "set_pace")["message"]
    for pace in (None, "abc", -1, 1001, 2.5, True, [], {}):
        ack = refused(a, a.call("set_pace", {"job_id": job_id, "pace": pace}), "set_pace")
        assert list(ack["errors"]) == ["pace"], ack
    assert "between 0 and 1000, got 1001" in a.call("set_pace", {"job_id": job_id, "pace": 1001})["errors"]["pace"]
    refused(a, a.call("set_pace", {"job": job_id}), "set_pace")
    assert manager.get(job_id).job._pace == 50 and a.events(job_id, "pace") == []


def test_the_pace_of_a_job_is_in_its_history(socket_client, manager):
    a = socket_client()
    job_id = start(a, long_config(pace=40))
    a.wait_steps(job_id, 1)
    a.call("set_pace", {"job_id": job_id, "pace": 100})
    a.wait_event(job_id, "pace")
    watcher = socket_client()
    assert watcher.call("watch", {"job_id": job_id})["ok"]
    assert watcher.wait_for(lambda c: c.histories(job_id))[0]["pace"] == 100


def test_a_second_start_says_which_run_is_going_with_links_to_it(socket_client, manager):
    a = socket_client()
    job_id = start(a)
    tab2 = socket_client(session=a)  # another tab, page or window of the same browser
    ack = refused(tab2, tab2.call("start", {"config": {"task": "classification"}}), "start")
    assert "already have a job running" in ack["message"]
    assert ack["job_id"] == job_id and ack["page"] == "function"
    assert ack["watch_url"] == f"/watch/{job_id}" and ack["page_url"] == f"/function?job={job_id}"
    # and "stop it" from that tab works: the same session owns the run
    assert tab2.call("stop", {"job_id": ack["job_id"]})["ok"] is True
    a.wait_state(job_id, "stopped")
    assert tab2.call("start", {"config": {"task": "classification", "epochs": 2}})["ok"] is True


def test_a_comparison_in_progress_is_named_with_the_compare_page(socket_client):
    a = socket_client()
    ack = a.call("start", {"comparison": "dropout", "config": {"task": "function", "epochs": 5000}})
    assert ack["ok"], ack
    again = refused(a, a.call("start", {"config": fast_config()}), "start")
    assert again["job_id"] == ack["job_id"] and again["page_url"] == f"/compare?job={ack['job_id']}"
