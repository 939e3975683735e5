"""Fixtures for the build tests: real projects per backend, a tools venv, a pypiserver."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.conftest import git, need_tool, run_help, write

GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

README = "# demo\n\nA demo project.\n"

BACKENDS: dict[str, str] = {
    "setuptools": """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "demo-setuptools"
        version = "0.3.0"
        description = "demo"
        readme = "README.md"
        requires-python = ">=3.8"
        dependencies = ["idna>=2"]
        """,
    "hatchling": """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "demo-hatchling"
        version = "0.3.0"
        description = "demo"
        readme = "README.md"
        requires-python = ">=3.8"
        dependencies = ["idna>=2"]
        """,
    "flit-core": """
        [build-system]
        requires = ["flit_core>=3.4"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "demo_flit_core"
        dynamic = ["version", "description"]
        readme = "README.md"
        requires-python = ">=3.8"
        dependencies = ["idna>=2"]
        """,
    "poetry-core": """
        [build-system]
        requires = ["poetry-core>=1.0"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "demo-poetry-core"
        version = "0.3.0"
        description = "demo"
        authors = ["A <a@example.com>"]
        readme = "README.md"
        packages = [{ include = "demo_poetry_core", from = "src" }]

        [tool.poetry.dependencies]
        python = ">=3.8"
        idna = ">=2"
        """,
    "pdm-backend": """
        [build-system]
        requires = ["pdm-backend"]
        build-backend = "pdm.backend"

        [project]
        name = "demo-pdm-backend"
        version = "0.3.0"
        description = "demo"
        readme = "README.md"
        requires-python = ">=3.8"
        dependencies = ["idna>=2"]
        """,
    # uv's own backend shells out to the uv-build binary its package puts in the environment's bin/.
    "uv-build": """
        [build-system]
        requires = ["uv_build>=0.8,<0.20"]
        build-backend = "uv_build"

        [project]
        name = "demo-uv-build"
        version = "0.3.0"
        description = "demo"
        readme = "README.md"
        requires-python = ">=3.8"
        dependencies = ["idna>=2"]
        """,
}


def package_name(backend: str) -> str:
    return "demo_" + backend.replace("-", "_")


@pytest.fixture(scope="session")
def build_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for help.py in these tests: one shared build-env cache, the user's download caches."""
    need_tool("git")
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env = dict(GIT_ID)
    env["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    # Downloads stay in the user's caches, so backends come from PyPI once per machine.
    env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or str(home_cache / "uv")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR") or str(home_cache / "pip")
    return env


@pytest.fixture(scope="session")
def tools_python(tmp_path_factory: pytest.TempPathFactory, build_env: dict[str, str]) -> Path:
    """A venv holding the peers and servers the tests compare against: build, twine, pypiserver, passlib."""
    venv = tmp_path_factory.mktemp("tools") / "venv"
    uv = shutil.which("uv")
    env = {**os.environ, "UV_CACHE_DIR": build_env["UV_CACHE_DIR"]}
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env)
        python = venv / "bin" / "python"
        cmd = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        cmd = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*cmd, "build", "pypiserver", "passlib", "twine", "setuptools>=68", "flit_core>=3.4", "pip"],
        check=True,
        env=env,
        timeout=600,
    )
    return python


@pytest.fixture
def backend_project(tmp_path: Path) -> Callable[..., Path]:
    """backend_project(backend) -> a git repository of a small package built by that backend."""

    def make(backend: str, name: str = "proj") -> Path:
        root = tmp_path / name
        pkg = package_name(backend)
        write(root / "pyproject.toml", BACKENDS[backend])
        write(root / "README.md", README)
        write(root / "src" / pkg / "__init__.py", '"""A demo package."""\n\n__version__ = "0.3.0"\n')
        write(root / "src" / pkg / "core.py", "def answer():\n    return 42\n")
        write(root / ".gitignore", "dist/\n*.log\n")
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "initial")
        return root

    return make


def help_json(*args: str, cwd: Path, env: dict[str, str], expect: int = 0) -> dict:
    result = run_help(*args, "--json", cwd=cwd, env=env)
    assert result.returncode == expect, result.stderr + result.stdout
    return json.loads(result.stdout)


def wheel_metadata(path: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return headers(archive.read(name).decode())


def sdist_metadata(path: Path) -> dict[str, list[str]]:
    import tarfile

    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("PKG-INFO"))
        handle = archive.extractfile(member)
        assert handle is not None
        return headers(handle.read().decode())


def headers(text: str) -> dict[str, list[str]]:
    parsed = HeaderParser().parsestr(text)
    result: dict[str, list[str]] = {}
    for key, value in parsed.items():
        result.setdefault(key, []).append(value)
    result["<body>"] = [str(parsed.get_payload()).strip()]
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pypiserver(tools_python: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real pypiserver on loopback with one user (alice / s3cret-pw) allowed to upload."""
    packages = tmp_path / "packages"
    packages.mkdir()
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        [
            str(tools_python),
            "-c",
            f"from passlib.apache import HtpasswdFile as H; h = H({str(htpasswd)!r}, new=True); h.set_password('alice', 's3cret-pw'); h.save()",
        ],
        check=True,
    )
    port = free_port()
    server = tools_python.parent / "pypi-server"
    proc = subprocess.Popen(
        [str(server), "run", "-i", "127.0.0.1", "-p", str(port), "-P", str(htpasswd), "-a", "update", str(packages)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("pypiserver did not start")
    try:
        yield {"url": url + "/", "simple": url + "/simple/", "packages": str(packages)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
