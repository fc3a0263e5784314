"""Give the memory of an ended job back to the operating system.

numpy's arrays come from the C allocator; glibc keeps the memory of freed ones for reuse (its mmap threshold
rises as large arrays are freed, so later ones come from the heap), and a process that trains jobs one after
another in threads or in a pool worker grows by hundreds of MiB it no longer uses (the soak in bench/soak.py:
767 -> 1115 MiB over 48 jobs, every Job freed). malloc_trim(0) after each job returns those pages; a fixed
mmap threshold would too, but made training 35% slower (a page fault per fresh array).
"""
import ctypes
import ctypes.util
import gc

__all__ = ["give_back"]

try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to do
    _trim = None


def give_back():
    """Collect garbage, then return the allocator's free pages to the system (glibc; elsewhere a gc only)."""
    gc.collect()
    if _trim is not None:
        _trim(0)
