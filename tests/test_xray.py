"""The X-ray of a step (engine/xray.py): its numbers are the network's, recorded with the library's hooks, and
a PyTorch rebuild of the same step from the X-ray's own "before" weights and batch gives the same outputs,
output gradients, parameter gradients and updates (SGD, momentum, Adam; with and without batch norm)."""
import numpy as np
import pytest

from bpnet.engine.job import Job, JobError
from bpnet.engine.xray import is_small

from support import wait_until
from twins import one_torch_thread, tnn, torch  # noqa: F401 (one_torch_thread: an autouse fixture)
from test_step_mode import Events, step_and_wait, stepped

FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [6, 5], "batch_size": 12,
       "epochs": 5, "seed": 3, "activation": "tanh"}
SPHERES = {"task": "classification", "dataset": "spheres", "n_samples": 80, "hidden": [3, 3, 2], "batch_size": 16,
           "epochs": 5, "seed": 2, "activation": "sigmoid"}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [32], "epochs": 1, "val_subset": 100, "eval_every": 5}
TOL = dict(rtol=2e-4, atol=1e-5)  # float32 network, float64 rebuild (a bias before batch norm: sums that cancel)
ACTS = {"Tanh": tnn.Tanh, "Sigmoid": tnn.Sigmoid, "ReLU": tnn.ReLU, "LeakyReLU": tnn.LeakyReLU}


def xray_after(config, steps):
    """A paused job stepped `steps` times: (job, its X-ray, its events)."""
    job, events = stepped(config, steps)
    return job, job.xray(), events


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def torch_module(layer):
    kind, params = layer["type"], layer.get("params", {})
    if kind == "Linear":
        w = t64(params["weight"]["before"])
        m = tnn.Linear(w.shape[1], w.shape[0]).double()
    elif kind == "BatchNorm1d":
        m = tnn.BatchNorm1d(len(params["weight"]["before"])).double()
    else:
        return ACTS[kind]()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(t64(params[name]["before"]))
    return m


def torch_optimizer(config, modules, layers):
    params = [p for m in modules for p in m.parameters()]
    cls = torch.optim.SGD if config.get("optimizer", "adam") in ("sgd", "momentum") else torch.optim.Adam
    settings = dict(layers["optimizer_settings"])  # the X-ray's own account of its update (momentum, betas...)
    if "betas" in settings:
        settings["betas"] = tuple(settings["betas"])
    opt = cls(params, layers["lr"], **settings)
    for m, layer in zip(modules, layers["layers"]):  # the optimiser's state before the step, from the X-ray
        for pname, p in m.named_parameters():
            before = layer["params"][pname]["state_before"]
            if before:
                opt.state[p] = {k: t64(v) if isinstance(v, list) else torch.tensor(float(v))
                                for k, v in before.items()}
    return opt


def rebuild(config, xray):
    """The X-ray's step done again in PyTorch: (modules, outputs with .grad, loss)."""
    modules = [torch_module(layer) for layer in xray["layers"]]
    h, outs = t64(xray["x"]), []
    for m in modules:
        h = m(h)
        h.retain_grad()
        outs.append(h)
    if xray["loss_fn"] == "MSELoss":
        loss = tnn.functional.mse_loss(h, t64(xray["y"]))
    else:
        loss = tnn.functional.cross_entropy(h, torch.tensor(xray["y"]))
    opt = torch_optimizer(config, modules, xray)
    loss.backward()
    opt.step()
    return modules, outs, loss


def close(ours, theirs, what):
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), theirs.detach().numpy(), **TOL, err_msg=what)


CASES = [("sgd", False), ("momentum", False), ("adam", False), ("sgd", True), ("momentum", True), ("adam", True)]


@pytest.mark.parametrize("optimizer,batch_norm", CASES)
@pytest.mark.parametrize("base", [FIT, SPHERES], ids=["fit", "spheres"])
def test_the_xray_equals_a_pytorch_rebuild_of_its_step(base, optimizer, batch_norm):
    config = dict(base, optimizer=optimizer, batch_norm=batch_norm, lr=0.05, weight_decay=0.01)
    _, xray, _ = xray_after(config, 3)  # the third step: momentum and Adam have state from two before
    assert xray["step"] == 3 and xray["summary"] is False and xray["optimizer"] == optimizer
    modules, outs, loss = rebuild(config, xray)
    assert xray["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for layer, m, out in zip(xray["layers"], modules, outs):
        close(layer["output"], out, f"{layer['name']} output")
        close(layer["grad_output"], out.grad, f"{layer['name']} grad_output")
        for name, p in m.named_parameters():
            close(layer["params"][name]["grad"], p.grad, f"{layer['name']} {name} grad")
            close(layer["params"][name]["after"], p, f"{layer['name']} {name} after")
    if optimizer != "sgd":  # the optimiser's state after the step is shown too
        state = xray["layers"][0]["params"]["weight"]["state"]
        assert set(state) >= ({"momentum_buffer"} if optimizer == "momentum" else {"exp_avg", "exp_avg_sq"})


def test_the_xray_shows_the_batch_the_first_layer_received_and_the_weights_the_network_holds():
    job, xray, _ = xray_after(FIT, 2)
    trainer = job.trainers[0]
    train = trainer.task.x_train  # after input normalisation
    for row in xray["x"]:
        assert np.any(np.all(np.isclose(train, row, rtol=0, atol=0), axis=1))
    names = [layer["name"] for layer in xray["layers"]]
    assert names == ["Linear 1", "Tanh 1", "Linear 2", "Tanh 2", "Linear 3"]
    for (name, module), layer in zip(trainer.model.named_children(), xray["layers"]):
        for pname, p in module.named_parameters():  # paused: the weights now are the step's "after"
            np.testing.assert_array_equal(np.asarray(layer["params"][pname]["after"], np.float32), p.data)
    first = xray["layers"][0]["params"]["weight"]
    assert np.any(np.asarray(first["before"]) != np.asarray(first["after"]))


def test_each_hidden_units_picture_over_the_input_grid():
    _, xray, _ = xray_after(FIT, 1)
    units = xray["units"]
    assert len(units["grid"]["x"]) == 200
    assert [layer["name"] for layer in units["layers"]] == ["Tanh 1", "Tanh 2"]
    assert [len(layer["values"]) for layer in units["layers"]] == [6, 5]
    assert all(-1 <= v <= 1 for v in units["layers"][0]["values"][0])
    _, xray, _ = xray_after(SPHERES, 1)  # 2-D grid: one row per y
    grid, values = xray["units"]["grid"], xray["units"]["layers"][0]["values"][0]
    assert (len(values), len(values[0])) == (len(grid["ys"]), len(grid["xs"]))


def test_a_big_network_gets_a_summary_with_pictures():
    assert not is_small(dict(FIT, hidden=[64], batch_norm=False, model="mlp"), (1,))
    _, xray, _ = xray_after(MNIST, 1)
    assert xray["summary"] is True and "x" not in xray
    flatten, first = xray["layers"][:2]
    assert flatten["type"] == "Flatten" and flatten["grad_output"] is None  # the data needs no gradient
    assert first["type"] == "Linear" and first["params"]["weight"]["shape"] == [32, 784]
    assert np.asarray(first["images"]["tiles"]).shape == (32, 28, 28)
    assert first["params"]["weight"]["grad"]["norm"] > 0
    assert len(first["output"]["percentiles"]) == 5


def test_cnn_summary_shows_filters_and_one_digits_feature_maps():
    cnn = dict(MNIST, model="cnn", conv_channels=[4], hidden=[8])
    _, xray, _ = xray_after(cnn, 1)
    conv = xray["layers"][0]
    assert conv["type"] == "Conv2d"
    assert np.asarray(conv["images"]["filters"]).shape == (4, 3, 3)
    assert np.asarray(conv["images"]["feature_maps"]).shape == (4, 28, 28)


def test_no_xray_before_the_first_step_and_a_clear_message():
    job = Job(FIT, paused=True).start()
    with pytest.raises(JobError, match="no step has run yet"):
        job.xray()
    with pytest.raises(JobError, match="no run 3"):
        job.xray(3)
    job.stop()
    job.wait()


def test_a_running_job_records_xrays_only_while_someone_asks():
    events = Events()
    job = Job(dict(FIT, epochs=5000, n_samples=400))
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("dists"), message="a dists sample")  # it runs
    assert not events.of("xray_ready")  # nobody asked
    try:
        job.xray()  # (the latest dists sample's X-ray, if one was taken; asking starts the recording)
    except JobError:
        pass
    ready = wait_until(lambda: events.of("xray_ready"), message="an xray_ready event")[0]
    shot = job.xray()
    assert shot["step"] >= ready["step"]
    job.stop()
    job.wait()
    assert job.state == "stopped"


def test_dists_carry_percentiles_and_the_share_of_dead_or_saturated_units():
    _, _, events = xray_after(dict(SPHERES, activation="sigmoid"), 4)
    sample = events.of("dists")[-1]
    assert [layer["name"] for layer in sample["layers"]] == ["Linear 1", "Linear 2", "Linear 3", "Linear 4"]
    first = sample["layers"][0]
    assert len(first["weight"]) == len(first["grad"]) == len(first["activation"]) == 5
    assert first["weight"] == sorted(first["weight"]) and 0 <= first["saturated"] <= 1
    assert sample["layers"][-1]["activation"] is None  # the output layer has no activation after it
    _, _, events = xray_after(dict(FIT, activation="relu"), 2)
    assert 0 <= events.of("dists")[-1]["layers"][0]["dead"] <= 1


def test_hooks_are_on_only_for_the_steps_recorded():
    job, events = stepped(dict(FIT, epochs=500), 1)  # 2000 steps, dists every 8: steps 2 and 3 are not recorded
    hooked = lambda: [m for m in job.trainers[0].model if m._forward_hooks or m._backward_hooks]  # noqa: E731
    assert not hooked()
    calls = []
    for m in job.trainers[0].model:  # a hook of our own counts the calls: it sees every step
        m.register_forward_hook(lambda *a: calls.append(1))
    step_and_wait(job, events, 3)
    assert [len(m._forward_hooks) for m in job.trainers[0].model] == [1] * len(job.trainers[0].model)
    assert [e["step"] for e in events.of("xray_ready")] == [1, 4] and job.xray()["step"] == 4
    job.stop()
    job.wait()


def test_distributions_are_sampled_every_k_steps_without_an_xray():
    job, events = stepped(dict(FIT, epochs=500), 30)  # 2000 steps: k = 8
    assert [e["step"] for e in events.of("dists")] == [8, 16, 24]
    assert [e["step"] for e in events.of("xray_ready")] == [30] and job.xray()["step"] == 30
    job.stop()
    job.wait()


def test_xrays_read_while_they_are_recorded_are_whole():
    """A page asks for the X-ray while the training thread records the next: it gets one or the other, whole."""
    import threading
    events = Events()
    job = Job(dict(MNIST, epochs=3), paused=True)
    job.subscribe(events)
    job.start()
    seen, problems, done = [], [], threading.Event()

    def look():
        while not done.is_set():
            try:
                seen.append(job.xray()["step"])
            except JobError:
                pass
            except Exception as exc:  # noqa: BLE001 - the failure this test looks for
                problems.append(repr(exc))
    reader = threading.Thread(target=look)
    reader.start()
    try:
        for _ in range(6):
            step_and_wait(job, events, 1)
    finally:
        done.set()
        reader.join()
    assert not problems and seen == sorted(seen)
    job.stop()
    job.wait()


def test_percentiles_are_numpys_and_large_arrays_are_sampled_evenly():
    from bpnet.engine.xray import SAMPLED, percentiles
    a = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(percentiles(a), np.percentile(a.astype(np.float64), [5, 25, 50, 75, 95]), rtol=1e-12)
    big = np.arange(10 * SAMPLED, dtype=np.float64)
    np.testing.assert_allclose(percentiles(big), np.percentile(big[::10], [5, 25, 50, 75, 95]), rtol=1e-12)
    assert percentiles(np.ones(1)).tolist() == [1.0] * 5


def test_the_seed_lessons_deltas_shrink_by_an_order_of_magnitude_per_layer_back():
    """The vanishing-gradients lesson (sigmoid 3-3-2-1 on the spheres, SGD 0.1): the X-ray shows it in numbers.
    With ReLU the signal does not fade so."""
    def deltas(activation):
        config = {"task": "classification", "dataset": "spheres", "activation": activation, "hidden": [3, 3, 2],
                  "optimizer": "sgd", "lr": 0.1, "epochs": 100}
        job, xray, _ = xray_after(config, 1)
        job.stop()
        return [np.mean(np.abs(layer["grad_output"])) for layer in xray["layers"] if layer["type"] == "Linear"]
    sigmoid = deltas("sigmoid")  # dL/dz of Linear 1..4
    assert all(back < front / 10 for back, front in zip(sigmoid, sigmoid[1:])), sigmoid
    relu = deltas("relu")
    assert relu[0] / relu[-1] > 100 * sigmoid[0] / sigmoid[-1], (relu, sigmoid)
