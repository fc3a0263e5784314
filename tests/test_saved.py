"""Models that travel: a job's .npz carries its settings and input normalisation beside the weights, and
bpnet.load turns it back into a model giving the job's outputs; a hostile file gets a clear ModelFileError."""
import io
import json
import zipfile

import numpy as np
import pytest

import bpnet
from bpnet.engine.job import Job
from bpnet.engine.saved import MAX_MODEL_BYTES, ModelFileError, read
from bpnet.engine.tasks import _mnist_validation_pixels

FIT = {"task": "function", "formula": "sin(2*x)", "x_min": 2, "x_max": 9, "n_samples": 60, "hidden": [8],
       "batch_size": 16, "epochs": 3}
SURFACE = {"task": "surface", "n_samples": 100, "hidden": [8, 8], "epochs": 2, "batch_norm": True, "dropout": 0.1}
SPHERES = {"task": "classification", "dataset": "spheres", "n_samples": 200, "hidden": [8], "epochs": 2,
           "activation": "sigmoid"}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [16], "epochs": 1, "val_subset": 100, "eval_every": 4}
CNN = dict(MNIST, model="cnn", conv_channels=[4], batch_norm=True, dropout=0.2, activation="leaky_relu")


def finished(config):
    job = Job(config)
    job.start()
    assert job.wait(120) and job.state == "finished", job.message
    return job


def raw_and_model_inputs(job):
    """(raw inputs, what the job's model is fed for them) of the job's validation or training data."""
    task = job.trainers[0].task
    if job.config["task"] == "mnist":
        return _mnist_validation_pixels()[:200].reshape(200, 784) / np.float32(255), task.x_val[:200]
    if job.config["task"] == "classification":
        return task.x_train_raw, task.x_train
    return task.data.x_val, task.x_val


@pytest.mark.parametrize("config", [FIT, dict(FIT, normalize_inputs=False), SURFACE, SPHERES, MNIST,
                                    dict(MNIST, normalize_inputs=False), CNN],
                         ids=["fit", "fit-raw", "surface-bn", "spheres", "mnist", "mnist-raw", "cnn"])
def test_a_loaded_model_gives_the_jobs_outputs_from_raw_inputs(config, tmp_path):
    job = finished(config)
    (tmp_path / "model.npz").write_bytes(job.model_npz())
    saved = bpnet.load(tmp_path / "model.npz")
    raw, fed = raw_and_model_inputs(job)
    assert np.array_equal(saved.predict(raw), job.predict(fed))  # the same numbers, not merely close
    assert saved.config == job.config and not saved.model.training
    assert len(saved.outputs) == job.trainers[0].task.out_features


def test_the_file_is_a_state_dict_with_its_description_in_the_zip_comment():
    job = finished(SPHERES)
    blob = job.model_npz()
    with np.load(io.BytesIO(blob)) as npz:  # still loads straight into a model: nothing but its arrays
        assert sorted(npz.files) == sorted(job.trainers[0].model.state_dict())
    about = json.loads(zipfile.ZipFile(io.BytesIO(blob)).comment)
    assert about["config"] == job.config and about["in_shape"] == [3] and about["activation"] == "sigmoid"
    assert about["layers"] == ["linear", "act", "linear"]
    scaler = job.trainers[0].task.scaler
    assert about["normalization"] == {"kind": "standardize", "mean": scaler.mean.ravel().tolist(),
                                      "std": scaler.std.ravel().tolist(), "dtype": "float64"}


def test_inputs_of_the_wrong_shape_or_not_finite_are_refused_clearly():
    saved = read(finished(FIT).model_npz())
    assert saved.predict([0.5]).shape == (1, 1)
    for bad, words in [([[1, 2]], "rows of 1 input (x)"), ([[np.nan]], "finite"), (np.empty((0, 1)), "no inputs")]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            saved.predict(bad)


def test_mnist_inputs_must_be_grey_levels_from_0_to_1():
    saved = read(finished(MNIST).model_npz())
    with pytest.raises(ValueError, match="divide by 255"):
        saved.predict(np.full((1, 784), 255.0))


# --- hostile files -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good():
    job = Job(FIT)
    job.start()
    assert job.wait(60)
    return job.model_npz()


def with_comment(state, comment):
    buf = io.BytesIO()
    np.savez(buf, **state)
    if comment is not None:
        with zipfile.ZipFile(buf, "a") as z:
            z.comment = comment if isinstance(comment, bytes) else json.dumps(comment).encode()
    return buf.getvalue()


def parts(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        about = json.loads(z.comment)
    with np.load(io.BytesIO(blob)) as npz:
        return dict(npz), about


def refused(blob, words):
    with pytest.raises(ModelFileError, match=words):
        read(blob)


def test_not_a_zip_too_large_or_without_a_description(good, tmp_path):
    refused(b"hello, I am not a model", "not a .npz model file")
    refused(b"", "not a .npz model file")
    refused(good[: len(good) // 2], "not a .npz model file|damaged")
    refused(b"PK" + bytes(MAX_MODEL_BYTES), "at most 32 MB")
    big = tmp_path / "big.npz"
    big.write_bytes(bytes(MAX_MODEL_BYTES + 1))
    refused(big, "big.npz is 32.0 MB: a model file may be at most 32 MB")
    refused(tmp_path / "missing.npz", "cannot read .*missing.npz: No such file")
    state, _ = parts(good)
    refused(with_comment(state, None), "no bpnet description")


def test_pickles_are_never_loaded(good):
    state, about = parts(good)
    refused(with_comment({**state, "0.bias": np.array([{"a": 1}], dtype=object)}, about), "pickled Python objects")


def test_a_small_zip_that_unpacks_into_gigabytes_is_refused(good):
    _, about = parts(good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("0.weight.npy", "w", force_zip64=True) as f:
            for _ in range(140):
                f.write(bytes(1024 * 1024))
        z.comment = json.dumps(about).encode()
    assert len(buf.getvalue()) < MAX_MODEL_BYTES
    refused(buf.getvalue(), "unpacks into 140 MB")


@pytest.mark.parametrize("change, words", [
    (lambda s, a: (s, b"\xff not json"), "not valid JSON"),
    (lambda s, a: (s, [1, 2]), "not a bpnet model's"),
    (lambda s, a: (s, {**a, "version": 99}), "version 99; this bpnet reads version 1"),
    (lambda s, a: (s, {**a, "config": {**a["config"], "hidden": [10 ** 9]}}), "settings are not valid: hidden"),
    (lambda s, a: (s, {**a, "config": "everything"}), "settings are not valid"),
    (lambda s, a: (s, {**a, "in_shape": [1, 4096, 4096]}), "input shape or output count"),
    (lambda s, a: (s, {**a, "normalization": {"kind": "standardize", "mean": [0], "std": [0], "dtype": "float64"}}),
     "normalisation is not valid"),
    (lambda s, a: (s, {**a, "normalization": {"kind": "exec"}}), "normalisation is not valid"),
    (lambda s, a: ({k: v for k, v in s.items() if k != "2.bias"}, a), "missing 2.bias"),
    (lambda s, a: ({**s, "9.weight": np.ones(3)}, a), "unexpected 9.weight"),
    (lambda s, a: ({**s, "0.weight": np.ones((8, 2))}, a), r"0.weight has shape \(8, 2\), the network's is \(8, 1\)"),
    (lambda s, a: ({**s, "0.weight": np.full((8, 1), np.nan)}, a), "0.weight is not finite numbers"),
    (lambda s, a: ({**s, "0.weight": np.array([["a"]] * 8)}, a), "0.weight is not finite numbers"),
], ids=["json", "not-a-dict", "version", "hidden", "config", "in-shape", "std-zero", "kind", "missing", "unexpected",
        "shape", "nan", "strings"])
def test_a_file_that_does_not_describe_its_weights_is_refused(good, change, words):
    refused(with_comment(*change(*parts(good))), words)


def test_flipped_bytes_give_a_model_or_a_clear_error(good):
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(300):
        blob = bytearray(good)
        for i in rng.integers(0, len(blob), rng.integers(1, 4)):
            blob[i] = rng.integers(0, 256)
        try:
            read(bytes(blob))
            outcomes.add("read")
        except ModelFileError as exc:
            assert str(exc) and "Traceback" not in str(exc)
            outcomes.add("refused")
    assert "refused" in outcomes
