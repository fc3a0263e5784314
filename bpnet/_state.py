"""Process-wide defaults: the floating-point dtype new layers use and the global random generator."""
import numpy as np

__all__ = ["set_default_dtype", "get_default_dtype", "manual_seed", "default_generator", "resolve_dtype"]

_ALLOWED = (np.float32, np.float64)
_default_dtype = np.float32
_generator = np.random.default_rng()


def set_default_dtype(dtype):
    """Set the dtype (np.float32 or np.float64) that layers and initialisers use when none is given."""
    global _default_dtype
    _default_dtype = resolve_dtype(dtype)


def get_default_dtype():
    """The current default floating-point dtype (np.float32 unless changed)."""
    return _default_dtype


def resolve_dtype(dtype=None):
    """`dtype` as a numpy scalar type, or the default when None; only float32/float64 are accepted."""
    if dtype is None:
        return _default_dtype
    try:
        dt = np.dtype(dtype).type
    except TypeError:
        dt = None
    if dt not in _ALLOWED:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    return dt


def manual_seed(seed):
    """Reseed the global generator used by initialisers, Dropout and DataLoader when none is passed."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator(generator=None):
    """`generator` if given (a numpy Generator or an int seed), else the global one."""
    if generator is None:
        return _generator
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(generator)
