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


def test_doctor_reports_the_build_setup(backend_project, build_env):
    root = backend_project("pdm-backend")
    result = run_help("doctor", "--json", cwd=root, env=build_env)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["build backend"]["status"] == "ok" and "pdm.backend" in checks["build backend"]["detail"]
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = "pdm-backend"\n[project]\nname = "x"\nversion = "1"\n'
    )
    result = run_help("doctor", "--json", cwd=root, env=build_env)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["build backend"]["status"] == "fail"
    assert "requires must be a list" in checks["build backend"]["detail"]
