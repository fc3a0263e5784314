"""numba, when it is installed and not switched off (BPNET_NUMBA=0): the one place bpnet asks for it.

The compiled loops (optim/_fused.py, nn/kernels.py) are fast paths beside readable numpy references, and are
tested equal to them; without numba, numpy does the same work in more passes.
"""
import os

__all__ = ["enabled", "njit"]


def enabled():
    """True unless BPNET_NUMBA=0 or numba is not importable."""
    if os.environ.get("BPNET_NUMBA", "1") == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def njit(fn):
    """fn compiled by numba (releasing the GIL, numpy's error model, no fast-math: the same operations in the same
    order), its machine code cached beside the source file or in the user's cache directory when one is writable."""
    import numba
    try:
        return numba.njit(nogil=True, error_model="numpy", cache=True)(fn)
    except RuntimeError:  # nowhere writable to cache: compile in each process
        return numba.njit(nogil=True, error_model="numpy")(fn)
