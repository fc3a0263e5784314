"""The table of runs of each browser, on disk: one JSON file per table under RUNS_DIR (BPNET_RUNS_DIR), so a
browser's runs survive a reload and a server restart. A table is named by a random key the page keeps in its
localStorage (not the session cookie, whose signing key may change with a restart); it holds at most `keep`
runs (BPNET_KEEP_RUNS: the oldest go first) and at most `tables` tables are kept (the least recently used go).
Files are written whole to a temporary name and renamed, so a crash never leaves half a table.
"""
import json
import os
import re
import tempfile
import threading
from pathlib import Path

__all__ = ["RunStore", "KEY"]

KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


class RunStore:
    def __init__(self, directory, keep=200, tables=1000):
        self.dir, self.keep, self.tables = Path(directory), keep, tables
        self._lock = threading.Lock()

    @staticmethod
    def check_key(key):
        """The key if it can name a table (ValueError saying what a key is, if not)."""
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ValueError("key must be the table's key: 16 to 64 letters, digits, - or _")
        return key

    def _path(self, key):
        return self.dir / f"{self.check_key(key)}.json"

    def rows(self, key):
        path = self._path(key)
        try:
            with path.open(encoding="utf-8") as f:
                rows = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError):  # an unreadable table: start it again rather than fail every request
            return []
        return rows if isinstance(rows, list) else []

    def add(self, key, new_rows):
        """Add rows (a run already in the table, by job and run, is replaced); returns the table."""
        with self._lock:
            rows = [r for r in self.rows(key)
                    if not any(r.get("job_id") == n["job_id"] and r.get("run") == n["run"] for n in new_rows)]
            rows = (rows + list(new_rows))[-self.keep:]
            self._write(key, rows)
            self._prune()
            return rows

    def clear(self, key, job_ids=None):
        """Remove every run of the table (or those of the jobs named)."""
        with self._lock:
            rows = [] if job_ids is None else [r for r in self.rows(key) if r.get("job_id") not in set(job_ids)]
            self._write(key, rows)
            return rows

    def _write(self, key, rows):
        path = self._path(key)
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".table-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(rows, f, allow_nan=False, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _prune(self):
        files = sorted(self.dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[:max(0, len(files) - self.tables)]:
            old.unlink(missing_ok=True)
