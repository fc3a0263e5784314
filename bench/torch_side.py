"""PyTorch for the side-by-side runs: imported if it can be, on as many threads as numpy's BLAS."""
import os

__all__ = ["load_torch"]


def load_torch(skip=False):
    """torch, or None (skip, or not importable: then said so); OPENBLAS_NUM_THREADS, if set, sets its threads."""
    if skip:
        return None
    try:
        import torch
    except ImportError:
        print("PyTorch not importable: bpnet only")
        return None
    if "OPENBLAS_NUM_THREADS" in os.environ:  # the same thread count as numpy's BLAS
        torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
    return torch
