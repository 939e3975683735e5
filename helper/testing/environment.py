"""The environment tests run in: made once, re-synced only when the manifest changes.

.venv is created by uv when it is on PATH (fast), else by venv + pip. The
project is installed editable with its test extras; a marker in .help/ holds
the fingerprint of what was installed, so an unchanged project costs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from helper import proc
from helper.errors import HelpError
from helper.fingerprint import sha256_file
from helper.fsutil import FileLock, atomic_write
from helper.ui import console


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _wanted(project: Any) -> dict[str, Any]:
    pyproject = project.root / "pyproject.toml"
    declared = project.pyproject.get("project", {}).get("optional-dependencies", {}) or {}
    extras = [e for e in project.config["test.extras"] if e in declared]
    return {
        "pyproject": sha256_file(pyproject) if pyproject.is_file() else None,
        "extras": extras,
        "base_python": sys.executable,
    }


def ensure(project: Any) -> Path:
    """The test environment's interpreter, creating and syncing it when needed."""
    venv = project.root / project.config["test.venv"]
    python = venv_python(venv)
    state = project.ensure_state_dir()
    marker = state / "test-env.json"
    wanted = _wanted(project)
    with FileLock(state / "test-env.lock", timeout=600):
        try:
            current = json.loads(marker.read_text())
        except (OSError, ValueError):
            current = None
        if python.exists() and current == wanted:
            return python
        uv = shutil.which("uv")
        with console.progress(f"preparing {venv.name}"):
            if not python.exists():
                console.info(f"creating {venv} ({'uv' if uv else 'venv'})")
                if uv:
                    proc.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, timeout=300)
                else:
                    proc.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            target = f".[{','.join(wanted['extras'])}]" if wanted["extras"] else "."
            packages = ["-e", target] if wanted["pyproject"] else []
            packages.append("pytest")
            console.info(f"installing {' '.join(packages)} into {venv}")
            if uv:
                cmd = [uv, "pip", "install", "--python", str(python), *packages]
            else:
                cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *packages]
            result = proc.run(cmd, cwd=project.root, timeout=1800)
            if not result.ok:
                raise HelpError(
                    f"could not install the test environment {venv}: "
                    + (result.stderr.strip().splitlines() or ["?"])[-1],
                    f"run `{' '.join(cmd)}` to see the whole error",
                )
        atomic_write(marker, json.dumps(wanted), fsync=False)
    return python
