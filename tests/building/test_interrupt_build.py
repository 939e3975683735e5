"""Ctrl-C at any point of a real build (setuptools): help.py stops promptly, says so, and leaves dist/ as it was.

The backend's hooks run in a runner process of their own session, which the terminal's
SIGINT never reaches: help.py itself must stop that group (SIGTERM, a grace period,
SIGKILL) and a second Ctrl-C must not wait out the grace period. setup.py here marks
each step it runs, hangs in the chosen one with a grandchild that ignores SIGTERM, and
optionally traps SIGTERM itself, as backends that clean up on termination do.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HELP, clean_env, git, write

SETUP_PY = """
import os, signal, subprocess, sys, time
from setuptools import setup

step = sys.argv[1] if len(sys.argv) > 1 else "?"
log = os.environ["HOOK_LOG"]
with open(log, "a") as handle:
    handle.write(step + "\\n")
if step == os.environ.get("HANG_AT"):
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    child = subprocess.Popen([sys.executable, "-c", stubborn])
    if os.environ.get("TRAP_TERM"):
        signal.signal(signal.SIGTERM, lambda *_: None)  # a backend cleaning up on SIGTERM, slowly
    with open(log + ".pids", "w") as handle:
        handle.write(f"{os.getpid()} {child.pid}\\n")
    time.sleep(300)
setup()
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "halting"
version = "1.0.0"
"""


def _project(root: Path) -> Path:
    write(root / "pyproject.toml", PYPROJECT)
    write(root / "setup.py", SETUP_PY)
    write(root / "src" / "halting" / "__init__.py", "X = 1\n")
    write(root / ".gitignore", "dist/\n")
    write(root / "dist" / "halting-0.9.0.tar.gz", "an older release, kept as it is\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(check, child: subprocess.Popen[str], seconds: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and child.poll() is None and not check():
        time.sleep(0.02)
    if not check():
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"the build never reached the point to interrupt: {err}")


def _dist(root: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "dist").iterdir())}


@pytest.mark.parametrize(
    ("point", "hang_at", "trap", "presses"),
    [
        ("while the build environment is made", "bdist_wheel", False, 1),
        ("in get_requires_for_build_sdist", "egg_info", False, 1),
        ("in build_sdist", "sdist", False, 1),
        ("in build_wheel, from the unpacked sdist", "bdist_wheel", False, 1),
        ("in build_sdist, the backend trapping SIGTERM", "sdist", True, 1),
        ("in build_wheel, trapping SIGTERM, Ctrl-C twice", "bdist_wheel", True, 2),
    ],
)
def test_ctrl_c_stops_a_real_build_promptly(  # type: ignore[no-untyped-def]
    tmp_path: Path, build_env, point: str, hang_at: str, trap: bool, presses: int
) -> None:
    root = _project(tmp_path / "proj")
    before = _dist(root)
    log = tmp_path / "hooks.log"
    env = {**build_env, "HOOK_LOG": str(log), "HANG_AT": hang_at}
    if trap:
        env["TRAP_TERM"] = "1"
    fresh = point.startswith("while the build environment")
    if fresh:  # a build-env cache of its own: interrupted while it is being made
        env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    child = subprocess.Popen(
        [sys.executable, str(HELP), "build"],
        cwd=root,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal gives it, whatever disposition the suite itself inherited (a background job's is SIG_IGN).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    envs = tmp_path / "xdg" / "help" / "build-envs"
    pids = Path(f"{log}.pids")
    if fresh:
        _wait_for(lambda: envs.is_dir() and any(envs.iterdir()), child)
    else:
        _wait_for(lambda: pids.is_file() and len(pids.read_text().split()) == 2, child)
    stopped = time.monotonic()
    for press in range(presses):
        if press:
            time.sleep(0.5)  # the second Ctrl-C lands in the grace period of the first
        child.send_signal(signal.SIGINT)
    try:
        _, err = child.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"help.py still running 30 s after Ctrl-C {point}")
    took = time.monotonic() - stopped
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert took < 10, f"help.py took {took:.1f}s to stop after Ctrl-C {point}"
    assert _dist(root) == before, "dist/ is as it was"
    if pids.is_file():
        deadline = time.monotonic() + 5
        left = [int(p) for p in pids.read_text().split()]
        while time.monotonic() < deadline and any(_alive(p) for p in left):
            time.sleep(0.05)
        assert not [p for p in left if _alive(p)], "the backend and its children are stopped"
