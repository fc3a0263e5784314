"""The one gradient checker the layer tests share: backward against central differences, in float64."""
import numpy as np

__all__ = ["gradcheck", "gradcheck_loss", "numeric_grad", "rel_error"]


def rel_error(a, b):
    """||a - b|| / (||a|| + ||b||), 0 when both vanish."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numeric_grad(f, array, eps=1e-6):
    """d f() / d array by central differences, perturbing `array` in place one element at a time."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, array), "array must be contiguous"
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(module, x, tol=1e-6, seed=0):
    """Check d/dx and d/dparam of L = sum(w * module(x)) for a fixed random w; returns the errors by name."""
    x = np.array(x, dtype=np.float64)
    w = np.random.default_rng(seed).standard_normal(module(x).shape)
    loss = lambda: float(np.sum(module(x) * w))  # noqa: E731
    module.zero_grad()
    module(x)
    dx = module.backward(w.copy())
    errors = {"input": rel_error(dx, numeric_grad(loss, x))}
    for name, p in module.named_parameters():
        assert p.data.dtype == np.float64, f"{name} is {p.data.dtype}: build the module with dtype=np.float64"
        errors[name] = rel_error(p.grad, numeric_grad(loss, p.data))
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"gradient check failed for {type(module).__name__}: {bad}"
    assert np.any(dx != 0), "the input gradient is identically zero: the check proves nothing"
    return errors


def gradcheck_loss(criterion, prediction, target, tol=1e-6):
    """Check criterion.backward() against central differences of criterion(prediction, target)."""
    prediction = np.array(prediction, dtype=np.float64)
    criterion(prediction, target)
    analytic = criterion.backward()
    err = rel_error(analytic, numeric_grad(lambda: criterion(prediction, target), prediction))
    assert err < tol, f"gradient check failed for {type(criterion).__name__}: relative error {err}"
    return err
