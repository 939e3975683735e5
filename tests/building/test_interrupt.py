"""Ctrl-C in the middle of a release undoes it; the doctor reports the build setup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from tests.conftest import HELP, clean_env, git, run_help, write

SLOW_BACKEND = """
import os
import time

def build_sdist(sdist_directory, config_settings=None):
    open(os.environ["SLOW_BACKEND_STARTED"], "w").close()
    time.sleep(120)
"""


INLINE_BACKEND = """
import base64, hashlib, os, zipfile

META = "Metadata-Version: 2.1\\nName: inline\\nVersion: 1.0.0\\n"

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # BREAK
    os.makedirs(os.path.join(metadata_directory, "inline-1.0.0.dist-info"))
    with open(os.path.join(metadata_directory, "inline-1.0.0.dist-info", "METADATA"), "w") as f:
        f.write(META)
    return "inline-1.0.0.dist-info"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "inline-1.0.0-py3-none-any.whl"
    files = {
        "inline.py": "X = 1\\n",
        "inline-1.0.0.dist-info/METADATA": META,
        "inline-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: inline\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as whl:
        for path, text in files.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            whl.writestr(path, data)
        record.append("inline-1.0.0.dist-info/RECORD,,")
        whl.writestr("inline-1.0.0.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
"""


def test_ctrl_c_during_build_rolls_back_the_bump(tmp_path, build_env):
    root = tmp_path / "slow"
    write(
        root / "pyproject.toml",
        """
        [build-system]
        requires = []
        build-backend = "slow_backend"
        backend-path = ["_backend"]

        [project]
        name = "slow"
        version = "1.0.0"
        """,
    )
    write(root / "_backend" / "slow_backend.py", SLOW_BACKEND)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    before = (root / "pyproject.toml").read_text()
    started = tmp_path / "hook-started"
    child = subprocess.Popen(
        [sys.executable, str(HELP), "build", "--bump", "major", "--tag"],
        cwd=root,
        env=clean_env({**build_env, "SLOW_BACKEND_STARTED": str(started)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite run as a background job of a script inherits SIGINT ignored, and Python then
        # never raises KeyboardInterrupt: the child gets the default disposition a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    # Interrupt once the backend's hook runs: after the bump, the commit and the tag.
    while time.monotonic() < deadline and not started.exists() and child.poll() is None:
        time.sleep(0.05)
    assert started.exists(), child.communicate()[1]
    assert 'version = "2.0.0"' in (root / "pyproject.toml").read_text()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert "rolled back: tag v2.0.0, commit, bump 1.0.0 -> 2.0.0" in err
    assert (root / "pyproject.toml").read_text() == before
    assert git(root, "tag", "--list") == ""
    assert git(root, "log", "--format=%s").split("\n")[0] == "initial"


def doctor_checks(root, env) -> dict:
    result = run_help("doctor", "--json", cwd=root, env=env)
    return {c["name"]: c for c in json.loads(result.stdout)}


def test_doctor_reports_the_build_setup(backend_project, build_env):
    root = backend_project("pdm-backend")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = "pdm-backend"\n[project]\nname = "x"\nversion = "1"\n'
    )
    checks = doctor_checks(root, build_env)
    assert checks["build backend"]["status"] == "fail"
    assert "requires must be a list" in checks["build backend"]["detail"]


def test_doctor_vouches_only_for_a_backend_it_tried(tmp_path, build_env):
    """ok means the backend ran in the build environment; a backend that cannot prepare metadata fails."""
    root = tmp_path / "inline"
    write(
        root / "pyproject.toml",
        """
        [build-system]
        requires = []
        build-backend = "inline_backend"
        backend-path = ["_backend"]

        [project]
        name = "inline"
        version = "1.0.0"
        """,
    )
    backend = root / "_backend" / "inline_backend.py"
    write(backend, INLINE_BACKEND)
    env = {**build_env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    checks = doctor_checks(root, env)
    assert checks["build backend"]["status"] == "warn", checks["build backend"]
    assert "not tried" in checks["build backend"]["detail"]
    assert run_help("build", "--wheel", cwd=root, env=env).returncode == 0
    checks = doctor_checks(root, env)
    assert checks["build backend"]["status"] == "ok", checks["build backend"]
    assert "inline-1.0.0.dist-info" in checks["build backend"]["detail"]
    backend.write_text(INLINE_BACKEND.replace("# BREAK", "raise RuntimeError('the backend tool is missing')"))
    checks = doctor_checks(root, env)
    assert checks["build backend"]["status"] == "fail", checks["build backend"]
    assert "the backend tool is missing" in checks["build backend"]["detail"]


def test_doctor_tries_uv_build_with_its_binary(backend_project, build_env):
    root = backend_project("uv-build")
    assert run_help("build", "--wheel", cwd=root, env=build_env).returncode == 0
    checks = doctor_checks(root, build_env)
    assert checks["build backend"]["status"] == "ok", checks["build backend"]
    assert "demo_uv_build-0.3.0.dist-info" in checks["build backend"]["detail"]
