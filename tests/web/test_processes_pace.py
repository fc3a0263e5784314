"""The live speed control reaches a job training in a worker process (WORKERS=processes, as in Docker)."""
from support import fast_config

from test_processes import app, settings  # noqa: F401 - the worker-pool app and its settings (fixtures)


def test_set_pace_reaches_the_worker_and_is_refused_there_when_out_of_limits(socket_client, manager):
    a = socket_client()
    ack = a.call("start", {"config": fast_config(epochs=100, pace=1)})  # 400 steps at one a second
    assert ack["ok"], ack
    job_id = ack["job_id"]
    a.wait_steps(job_id, 1)
    bad = a.call("set_pace", {"job_id": job_id, "pace": 5000})
    assert bad["ok"] is False and "between 0 and 1000" in bad["errors"]["pace"]
    assert a.call("set_pace", {"job_id": job_id, "pace": 0}) == {"ok": True, "pace": 0}
    assert a.wait_event(job_id, "pace")["pace"] == 0
    a.wait_state(job_id, "finished")  # the rest at full speed
    assert a.call("set_pace", {"job_id": job_id, "pace": 10})["ok"] is False  # ended: its archive refuses
