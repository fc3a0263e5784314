"""scripts/start and scripts/test set up .venv through scripts/setup-venv: on a stock Debian/Ubuntu Python without
its venv package (python3.X-venv), they say so in one line (or install it, as root with apt) and leave no half-made
environment behind.

Each test runs the real scripts in a copy of scripts/ with fakes on PATH: a python3 that fails as Debian's does
without python3.X-venv (no ensurepip; `-m venv` prints ten lines and leaves a .venv without pip), and `id` and
`apt-get` that stand for a user or root (apt-get only records that it was called)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_PACKAGE = f"python3.{sys.version_info[1]}-venv"  # the fake python delegates version questions to this one

DEBIAN_PYTHON = f"""#!/bin/sh
case "$*" in
  *"import ensurepip"*) echo "ModuleNotFoundError: No module named 'ensurepip'" >&2; exit 1 ;;
  "-m venv "*)
    mkdir -p "$3/bin" && ln -sf {sys.executable} "$3/bin/python"
    printf 'The virtual environment was not created successfully because ensurepip is not\\navailable.\\n' >&2
    printf 'On Debian/Ubuntu systems, you need to install the python3-venv\\npackage using the following command.\\n' >&2
    printf '\\n    apt install {VENV_PACKAGE}\\n\\nYou may need to use sudo with that command.\\n' >&2
    printf 'Failing command: %s/bin/python3\\n' "$3" >&2
    exit 1 ;;
esac
exec {sys.executable} "$@"
"""


def fake(bin_dir, name, text):
    path = bin_dir / name
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A checkout with the real scripts, and a bin directory of fakes first on PATH."""
    shutil.copytree(ROOT / "scripts", tmp_path / "repo" / "scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake(bin_dir, "python3", DEBIAN_PYTHON)
    fake(bin_dir, "apt-get", f'#!/bin/sh\necho "$*" >> {tmp_path}/apt-get.log\n')
    return tmp_path


def run_script(checkout, script, uid):
    fake(checkout / "bin", "id", f"#!/bin/sh\necho {uid}\n")
    env = {"PATH": f"{checkout / 'bin'}:/usr/bin:/bin", "HOME": str(checkout), "PYTHON": "python3"}
    return subprocess.run([str(checkout / "repo" / "scripts" / script)], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("script", ["start", "test"])
def test_a_user_without_the_venv_package_is_told_in_one_line(checkout, script):
    out = run_script(checkout, script, uid=1000)
    assert out.returncode != 0
    assert out.stderr.splitlines() == [
        f"error: python3 cannot create virtual environments (no ensurepip): run 'sudo apt install {VENV_PACKAGE}', "
        "then this script again"]
    assert not (checkout / "apt-get.log").exists()
    assert not (checkout / "repo" / ".venv").exists()


@pytest.mark.parametrize("script", ["start", "test"])
def test_root_installs_the_venv_package_with_apt_and_says_so_when_that_did_not_help(checkout, script):
    out = run_script(checkout, script, uid=0)
    assert out.returncode != 0
    assert f"installing {VENV_PACKAGE}" in out.stdout
    assert f"install -y -qq {VENV_PACKAGE}" in (checkout / "apt-get.log").read_text()
    # the fake package changed nothing: venv fails as Debian's does, summed up in one line
    assert out.stderr.splitlines() == [
        f"error: 'python3 -m venv .venv' failed (Debian/Ubuntu: sudo apt install {VENV_PACKAGE}; "
        "or set PYTHON to another interpreter)"]
    assert not (checkout / "repo" / ".venv").exists()  # no half-made environment for the next run to trip on


def test_a_half_made_venv_from_an_earlier_attempt_is_made_again(checkout):
    half = checkout / "repo" / ".venv" / "bin"
    half.mkdir(parents=True)
    (half / "python").symlink_to("/bin/false")  # an interpreter without pip
    out = run_script(checkout, "start", uid=1000)
    assert "cannot create virtual environments" in out.stderr  # not "No module named pip"
    assert not (checkout / "repo" / ".venv").exists()


def test_a_missing_or_old_python_is_named(checkout):
    env = {"PATH": f"{checkout / 'bin'}:/usr/bin:/bin", "PYTHON": "python3.nowhere"}
    out = subprocess.run([str(checkout / "repo" / "scripts" / "start")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and out.stderr.splitlines() == [
        "error: python3.nowhere not found: install Python 3.10+ (Debian/Ubuntu: apt install python3 python3-venv)"]
    fake(checkout / "bin", "python3.8", '#!/bin/sh\ncase "$*" in *version_info*) exit 1 ;; -V) echo Python 3.8.10 ;; esac\n')
    out = subprocess.run([str(checkout / "repo" / "scripts" / "start")], env=dict(env, PYTHON="python3.8"),
                         capture_output=True, text=True, timeout=60)
    assert out.stderr.splitlines() == [
        "error: bpnet needs Python 3.10+, python3.8 is Python 3.8.10; set PYTHON to another interpreter"]
