"""Fetch the pinned browser packages from the npm registry, verify their integrity hashes, install them.

The pages load /static/vendor/socket.io.min.js from the app itself; nothing is fetched from a CDN at page load.
With --tests, also the packages only the tests use (axe-core, the accessibility checker the browser tests run
in each page: tests/web/vendor/, never served to users). Run once at set-up (scripts/start, scripts/test with
--tests) or image build (Dockerfile).
"""
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (package, version, the registry's integrity hash, {member of the tarball: file name}, where, for tests only)
PACKAGES = [
    ("socket.io-client", "4.8.4",
     "sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA==",
     {"package/dist/socket.io.min.js": "socket.io.min.js", "package/dist/socket.io.min.js.map": "socket.io.min.js.map"},
     ROOT / "static" / "vendor", False),
    ("axe-core", "4.11.0",
     "sha512-ilYanEU8vxxBexpJd8cWM4ElSQq4QctCLKih0TSfjIfCQTeyH/6zVrmIJfLPrKTKJRbiG+cfnZbQIjAlJmF1jQ==",
     {"package/axe.min.js": "axe.min.js"}, ROOT / "tests" / "web" / "vendor", True),
]
DEST = PACKAGES[0][4]  # where the pages' packages go


def fetch(package, version, integrity, members, dest):
    """Download package@version, check it against `integrity`, write `members` into dest (once per version)."""
    stamp = dest / f"{package}.version"
    if all((dest / name).exists() for name in members.values()) and stamp.exists() \
            and stamp.read_text().strip() == version:
        return
    url = f"https://registry.npmjs.org/{package}/-/{package.split('/')[-1]}-{version}.tgz"
    print(f"fetching {package}@{version} from the npm registry ...", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            blob = resp.read()
    except OSError as exc:
        sys.exit(f"could not download {url}: {exc}\n"
                 f"Copy {package}@{version}'s {', '.join(m.split('/', 1)[1] for m in members)} into {dest} by hand.")
    algo, expected = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
    if actual != expected:
        sys.exit(f"integrity check failed for {url}: expected {integrity}, got {algo}-{actual}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member, name in members.items():
            (dest / name).write_bytes(tar.extractfile(member).read())
    stamp.write_text(version + "\n")
    print(f"installed {', '.join(str(dest / n) for n in members.values())} (integrity verified)")


def main(argv=None):
    with_tests = "--tests" in (sys.argv[1:] if argv is None else argv)
    for package, version, integrity, members, dest, tests_only in PACKAGES:
        if with_tests or not tests_only:
            fetch(package, version, integrity, members, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
