"""Helpers for the env tests: lay out trees exactly as venv, conda, pixi and pyenv do, and run detection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helper.envs.detect import Detection, detect
from tests.conftest import clean_env

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def touch_exe(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def fake_venv(prefix: Path, version: str = "3.12.1", manager: str = "venv", home: str = "/usr/bin") -> Path:
    """A venv as `python -m venv`, virtualenv or `uv venv` leaves it (pyvenv.cfg, bin/, lib/)."""
    lines = [f"home = {home}", "include-system-site-packages = false"]
    if manager == "uv":
        lines += ["implementation = CPython", "uv = 0.13.9", f"version_info = {version}"]
    elif manager == "virtualenv":
        lines += ["implementation = CPython", "virtualenv = 20.26.6", f"version_info = {version}.final.0"]
    else:
        lines += [f"version = {version}", f"executable = {home}/python{version[:4]}"]
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "pyvenv.cfg").write_text("\n".join(lines) + "\n")
    touch_exe(prefix / "bin" / "python")
    (prefix / "lib" / f"python{'.'.join(version.split('.')[:2])}" / "site-packages").mkdir(parents=True, exist_ok=True)
    return prefix


def fake_conda(
    prefix: Path, version: str = "3.11.5", cmd: str | None = None, pixi: bool = False, base: bool = False
) -> Path:
    """A conda prefix: conda-meta/ with history and the python package's record, bin/python (condabin/ and pkgs/ for a base install)."""
    if base:
        (prefix / "condabin").mkdir(parents=True, exist_ok=True)
        (prefix / "pkgs").mkdir(parents=True, exist_ok=True)
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "history").write_text(
        f"==> 2024-05-01 10:00:00 <==\n# cmd: {cmd or 'conda create'}\n# conda version: 24.3.0\n+defaults/linux-64::python-{version}-h955ad1f_0\n"
    )
    (meta / f"python-{version}-h955ad1f_0.json").write_text(json.dumps({"name": "python", "version": version}))
    (meta / "pip-24.0-py311h06a4308_0.json").write_text("{}")
    if pixi:
        (meta / "pixi").write_text('{"manifest_path": "pixi.toml", "environment_name": "default"}')
    touch_exe(prefix / "bin" / f"python{version[:4]}")
    (prefix / "bin" / "python").symlink_to(f"python{version[:4]}")
    return prefix


def fake_pyenv(root: Path, *versions: str) -> Path:
    """$PYENV_ROOT with versions/<v>/bin/python and a shims/ dir of shell scripts."""
    for version in versions:
        touch_exe(root / "versions" / version / "bin" / f"python{version[:4]}")
        (root / "versions" / version / "bin" / "python").symlink_to(f"python{version[:4]}")
        (root / "versions" / version / "lib" / f"python{version[:4]}").mkdir(parents=True, exist_ok=True)
    touch_exe(root / "shims" / "python", '#!/usr/bin/env bash\nexec "$PYENV_ROOT/libexec/pyenv" exec "python" "$@"\n')
    return root


def run_detect(
    project: Path, *, root: Path | None = None, environ: dict[str, str] | None = None, **kwargs: Any
) -> Detection:
    env = {"HOME": "/home/u", "PATH": "/usr/bin:/bin"} if root is not None else clean_env()
    env.update(environ or {})
    return detect(project, environ=env, root=root or Path("/"), **kwargs)


def by_kind(found: Detection, kind: str) -> list[Any]:
    return [e for e in found.envs if e.kind == kind]


def tool_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Variables that keep uv, poetry, pdm and hatch inside the test's temp dir."""
    env = clean_env(
        {
            "POETRY_VIRTUALENVS_PATH": str(tmp_path / "poetry-venvs"),
            "POETRY_CACHE_DIR": str(tmp_path / "poetry-cache"),
            "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
            "PDM_CHECK_UPDATE": "false",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        }
    )
    env.update(extra)
    return env


def sh(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def project(make_project: Any) -> Path:
    return make_project(
        '[project]\nname = "Sample_Proj"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = []\n'
    )


def real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(path)


def build_wheel(dest: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A real, installable pure-Python wheel (so tests need no network index)."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": meta,
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """A local 'index' directory: tinydep 0.9 and 1.0, otherdep 2.1."""
    directory = tmp_path / "wheels"
    build_wheel(directory, "tinydep", "0.9")
    build_wheel(directory, "tinydep", "1.0")
    build_wheel(directory, "otherdep", "2.1")
    return directory


def offline_index(wheels: Path) -> dict[str, str]:
    """pip and uv install from `wheels` only."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "UV_NO_INDEX": "1", "UV_FIND_LINKS": str(wheels),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # fmt: skip
