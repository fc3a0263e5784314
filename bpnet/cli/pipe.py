"""Standard output that outlives its reader: `bpnet compare activation | head -1` must not end in a traceback,
nor lose the run. Once the reader has gone, what is left to print goes nowhere, and the command carries on
(training, then saving the files it was asked for)."""
import contextlib
import os
import sys

__all__ = ["reader_may_leave"]


class _PipeSafe:
    """A text stream whose writes stop (silently) when the pipe behind it is closed."""

    def __init__(self, stream):
        self._stream = stream

    def _gone(self):
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())  # what is still buffered goes nowhere too

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def reader_may_leave():
    """sys.stdout made pipe-safe for the duration (a stream without a file descriptor, e.g. a test's, as it is)."""
    stream = sys.stdout
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout = _PipeSafe(stream)
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = stream
