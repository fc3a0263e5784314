"""A stop takes effect inside a step or an evaluation (between two layers), not only between steps; a job that
runs out of memory fails saying so."""
import threading

import numpy as np
import pytest

from bpnet import nn
from bpnet.engine.job import OUT_OF_MEMORY, Job

ENDLESS = {"task": "function", "formula": "sin(3*x)", "n_samples": 200, "hidden": [16, 16], "batch_size": 8,
           "epochs": 5000}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [32], "epochs": 1, "val_subset": 100, "eval_every": 100}


def hold(layer, when=lambda: True):
    """Make `layer`'s forward wait, once when() holds, until released: (entered, release) events."""
    entered, release, real = threading.Event(), threading.Event(), layer.forward

    def forward(x):
        if not entered.is_set() and when():
            entered.set()
            release.wait(30)
        return real(x)
    layer.forward = forward  # this instance only
    return entered, release


def test_a_stop_in_the_middle_of_a_step_abandons_it_at_the_next_layer():
    job = Job(ENDLESS)
    trainer = job.trainers[0]
    job.start()
    second = [m for m in trainer.model if isinstance(m, nn.Linear)][1]
    entered, release = hold(second, lambda: trainer.step >= 5 and second.training)  # in a training step
    assert entered.wait(20), "the step never reached the layer"
    done_before = trainer.step
    weights = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    job.stop()
    release.set()  # the layer's work ends; the next layer sees the stop
    assert job.wait(20) and job.state == "stopped"
    assert trainer.step == done_before  # the step in progress was not completed (nor reported)
    assert job.history()["runs"][0]["step"] == done_before
    assert all(np.array_equal(weights[k], v) for k, v in trainer.model.state_dict().items())


def test_a_stop_during_the_final_evaluation_ends_the_job_without_final_metrics():
    events = []
    job = Job(MNIST)
    trainer = job.trainers[0]
    job.subscribe(events.append)
    first = [m for m in trainer.model if isinstance(m, nn.Linear)][0]
    final, real_final = threading.Event(), trainer.final_metrics
    trainer.final_metrics = lambda *args: final.set() or real_final(*args)
    entered, release = hold(first, final.is_set)
    job.start()
    assert entered.wait(60), "the final evaluation never started"
    job.stop()
    release.set()
    assert job.wait(20) and job.state == "stopped"
    done = [e for e in events if e["type"] == "done"]
    assert len(done) == 1 and done[0]["stopped"] is True and "test_acc" not in done[0]


def test_running_out_of_memory_fails_the_job_with_advice():
    job = Job(ENDLESS)
    trainer = job.trainers[0]
    layer = [m for m in trainer.model if isinstance(m, nn.Linear)][1]
    real = layer.forward

    def forward(x):
        if trainer.step >= 3:
            raise MemoryError("simulated: cannot allocate 8.3 GiB")
        return real(x)
    layer.forward = forward
    job.start()
    assert job.wait(20) and job.state == "failed" and job.message == OUT_OF_MEMORY
    assert "smaller batch size" in job.message
    assert job.history()["runs"][0]["step"] == 3


@pytest.mark.parametrize("kind", ["train", "compare"])
def test_a_job_over_its_budget_is_refused_before_anything_is_built(kind, monkeypatch):
    from bpnet.engine.config import ConfigError
    from bpnet.engine.experiments import compare_job

    monkeypatch.setenv("BPNET_MAX_JOB_SECONDS", "60")
    config = dict(ENDLESS, hidden=[256, 256])
    with pytest.raises(ConfigError) as info:
        Job(config) if kind == "train" else compare_job("activation", config)
    assert "epochs" in info.value.errors and "over the 1 min" in info.value.errors["epochs"]
    assert Job(config, budget=False).state == "created"  # checked where it was requested: not again
