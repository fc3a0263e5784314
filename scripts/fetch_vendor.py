"""Fetch the pinned Socket.IO browser client from the npm registry, verify its integrity hash, install it.

The page loads /static/vendor/socket.io.min.js from the app itself; nothing is fetched from a CDN at page load.
Run once at set-up (scripts/start, scripts/test) or image build (Dockerfile).
"""
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE, VERSION = "socket.io-client", "4.8.4"
INTEGRITY = "sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA=="
URL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
MEMBERS = {"package/dist/socket.io.min.js": "socket.io.min.js", "package/dist/socket.io.min.js.map": "socket.io.min.js.map"}
DEST = Path(__file__).resolve().parents[1] / "static" / "vendor"


def main():
    target = DEST / "socket.io.min.js"
    stamp = DEST / "socket.io.version"
    if target.exists() and stamp.exists() and stamp.read_text().strip() == VERSION:
        return 0
    print(f"fetching {PACKAGE}@{VERSION} from the npm registry ...", flush=True)
    try:
        with urllib.request.urlopen(URL, timeout=60) as resp:
            blob = resp.read()
    except OSError as exc:
        sys.exit(f"could not download {URL}: {exc}\n"
                 f"Copy {PACKAGE}@{VERSION}'s dist/socket.io.min.js into {DEST} by hand.")
    algo, expected = INTEGRITY.split("-", 1)
    actual = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
    if actual != expected:
        sys.exit(f"integrity check failed for {URL}: expected {INTEGRITY}, got {algo}-{actual}")
    DEST.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member, name in MEMBERS.items():
            (DEST / name).write_bytes(tar.extractfile(member).read())
    stamp.write_text(VERSION + "\n")
    print(f"installed {DEST / 'socket.io.min.js'} (integrity verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
