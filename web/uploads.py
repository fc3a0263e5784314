"""Data uploaded for a run, between its preview and its Start: parsed and checked by the engine
(bpnet/engine/user_data.py through the config schema), kept here in memory under its digest for a while, then
put into the run's config by the JobManager, so it lives with the job (its watch link shows the points) and is
never written to disk here.

A Start names the upload by its digest ({"data": "<digest>"}); an upload kept too long (KEEP_SECONDS) or pushed
out by newer ones (KEEP_UPLOADS) has to be uploaded again, and the Start says so.
"""
import threading
import time
from collections import OrderedDict

from bpnet.engine import user_data
from bpnet.engine.config import ConfigError, field_spec, validate_field
from bpnet.data import holdout_size

__all__ = ["UploadStore", "KEEP_UPLOADS", "KEEP_SECONDS"]

KEEP_UPLOADS = 16  # uploads kept at once, server-wide (each at most the schema's row limit: a few MB parsed)
KEEP_SECONDS = 3600.0
DIGEST_CHARS = set("0123456789abcdef")


class UploadStore:
    """Checked uploads by digest: add(task, text, name, val_fraction) -> preview; resolve(config) -> config."""

    def __init__(self, keep=KEEP_UPLOADS, seconds=KEEP_SECONDS, clock=time.monotonic):
        self.keep, self.seconds, self.clock = keep, seconds, clock
        self._items = OrderedDict()  # (task, digest) -> (data, when)
        self._lock = threading.Lock()

    def add(self, task, text, name=None, val_fraction=None):
        """Parse and check an upload for `task` (ConfigError naming the field at fault); keep it; its preview."""
        if task not in user_data.COLUMNS:
            raise ConfigError({"task": f"one's own data is for {', '.join(user_data.COLUMNS)}; got {str(task)[:30]!r}"})
        fraction = field_spec("val_fraction", task)["default"]
        if val_fraction not in (None, ""):
            fraction = validate_field("val_fraction", val_fraction, task)
        data = validate_field("data", {"name": name, "csv": text}, task)
        key = (task, user_data.digest(data))
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (data, self.clock())
            self._prune()
        return user_data.preview(data, task, holdout_size(len(data["values"]), fraction))

    def _prune(self):
        now = self.clock()
        for key in [k for k, (_, when) in self._items.items() if now - when > self.seconds]:
            del self._items[key]
        while len(self._items) > self.keep:
            self._items.popitem(last=False)

    def get(self, task, digest):
        with self._lock:
            self._prune()
            found = self._items.get((task, digest))
            if found is not None:
                self._items.move_to_end((task, digest))
                self._items[(task, digest)] = (found[0], self.clock())  # in use: kept another while
            return None if found is None else found[0]

    def resolve(self, config):
        """A Start's config with its upload's digest replaced by the data (anything else is left to the schema)."""
        if not isinstance(config, dict) or not isinstance(config.get("data"), str):
            return config
        digest, task = config["data"], config.get("task", "function")
        if not (0 < len(digest) <= 64 and set(digest) <= DIGEST_CHARS):
            raise ConfigError({"data": "not an upload of this server (upload the file again)"})
        data = self.get(task, digest)
        if data is None:
            raise ConfigError({"data": "this upload is no longer on the server (it keeps uploads for "
                                       f"{self.seconds / 60:.0f} minutes, and not across a restart): upload the file again"})
        return {**config, "data": data}
