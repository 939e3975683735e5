"""The sample app (tests/fixtures/run_app) and its venv, made once from PyPI and cached.

The venv lives in .help/fixtures/ of this repository, keyed by the requirements'
hash and the Python version, so test sessions and the benchmark reuse it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "fixtures" / "run_app"
sys.path.insert(0, str(ROOT))

from helper.fsutil import FileLock  # noqa: E402


def app_venv(extra: tuple[str, ...] = ()) -> Path:
    """A venv with the app's requirements (+ extra packages), created on first use."""
    requirements = (APP / "requirements.txt").read_text()
    key = hashlib.sha256(f"{requirements}{extra}{sys.version}".encode()).hexdigest()[:12]
    venv = ROOT / ".help" / "fixtures" / f"run-app-{key}"
    done = venv / ".complete"
    with FileLock(venv.parent / f"{venv.name}.lock", timeout=900):
        if done.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(APP / "requirements.txt"),
                *extra,
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        done.write_text("ok\n")
    return venv


def copy_app(dest: Path, venv: Path) -> Path:
    """A fresh copy of the sample app at `dest`, with .venv linked to the cached venv."""
    shutil.copytree(APP, dest, ignore=shutil.ignore_patterns("__pycache__", "data", ".env"))
    (dest / ".venv").symlink_to(venv, target_is_directory=True)
    return dest
