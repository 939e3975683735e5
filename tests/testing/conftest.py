"""Fixtures for the selector's tests: one real venv with pytest shared by every sample project, and sdists from PyPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, git, run_help, write

PYTEST_INI = "[pytest]\ntestpaths = tests\npythonpath = .\n"


@pytest.fixture(scope="session")
def shared_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv with pytest, pytest-xdist and pytest-cov, made once (uv when present, else venv + pip)."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                "pytest",
                "pytest-xdist",
                "pytest-cov",
            ],
            check=True,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pytest", "pytest-xdist", "pytest-cov"],
            check=True,
        )
    return venv


def sdist_cache() -> Path:
    """Where downloaded sdists are kept between test runs: HELPY_TEST_SDISTS, else the user's cache folder."""
    given = os.environ.get("HELPY_TEST_SDISTS")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "help-py-tests" / "sdists"


def sdist(spec: str) -> Path:
    """The sdist of `spec` ("name==version") from PyPI, downloaded once into `sdist_cache()`.

    `pip download --no-deps --no-binary :all:` fetches it (pip checks its hash);
    it lands in a fresh folder first and is moved into the cache when complete,
    so an interrupted download never leaves a broken archive behind. Without
    network the test skips, and fails under CI=true.
    """
    from helper.fsutil import FileLock

    name, _, version = spec.partition("==")
    cache = sdist_cache()
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(cache / ".lock", timeout=600):
        found = _cached_sdist(cache, name, version)
        if found is not None:
            return found
        partial = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
        try:
            import importlib.util

            pip = [sys.executable, "-m", "pip"] if importlib.util.find_spec("pip") else [shutil.which("pip3") or "pip"]
            command = [*pip, "download", "-q", "--disable-pip-version-check"]
            command += ["--no-deps", "--no-binary", ":all:", spec, "-d", str(partial)]
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=600)
                output = result.stderr or result.stdout
            except (OSError, subprocess.TimeoutExpired) as exc:
                result, output = None, str(exc)
            archives = [p for p in partial.iterdir() if p.name.endswith((".tar.gz", ".zip"))]
            if result is None or result.returncode != 0 or not archives:
                message = f"cannot download the sdist of {spec} from PyPI: {output[-1500:]}"
                if IN_CI:
                    pytest.fail(message + " (CI must reach PyPI)")
                pytest.skip(message)
            target = cache / archives[0].name
            os.replace(archives[0], target)
            return target
        finally:
            shutil.rmtree(partial, ignore_errors=True)


def _cached_sdist(cache: Path, name: str, version: str) -> Path | None:
    """The archive of `name` `version` in the cache, whatever normalisation of the name the sdist used."""
    wanted = name.lower().replace("-", "_").replace(".", "_")
    for path in cache.iterdir():
        stem = path.name.removesuffix(".tar.gz").removesuffix(".zip")
        if stem == path.name:
            continue
        found, _, found_version = stem.rpartition("-")
        if found.lower().replace("-", "_").replace(".", "_") == wanted and found_version == version:
            return path
    return None


class Sample:
    """A sample project in a real git repository, tested through help.py."""

    def __init__(self, root: Path, venv: Path) -> None:
        self.root = root
        self.venv = venv

    def write(self, rel: str, text: str) -> None:
        write(self.root / rel, text)

    def replace(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new))

    def help(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_help(*args, cwd=self.root, env={"HELP_TEST__VENV": str(self.venv), **(env or {})})

    def test(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """`help.py test --json ARGS`: the parsed report plus returncode and stderr."""
        result = self.help("test", "--json", *args, env=env)
        try:
            data = json.loads(result.stdout)
        except ValueError:
            raise AssertionError(
                f"no JSON from help.py test (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            ) from None
        data["returncode"] = result.returncode
        data["stderr"] = result.stderr
        return data

    def git(self, *args: str) -> str:
        return git(self.root, *args)


def ran(report: dict[str, Any]) -> set[str]:
    return {t["id"] for t in report["tests"] if not t["cached"]}


def cached(report: dict[str, Any]) -> set[str]:
    return {t["id"] for t in report["tests"] if t["cached"]}


def failing(report: dict[str, Any]) -> set[str]:
    return {t["id"] for t in report["tests"] if t["outcome"] in ("failed", "error")}


@pytest.fixture
def sample(tmp_path: Path, shared_venv: Path) -> Callable[[dict[str, str]], Sample]:
    def make(files: dict[str, str]) -> Sample:
        root = tmp_path / "sample"
        root.mkdir()
        project = Sample(root, shared_venv)
        project.write("pytest.ini", PYTEST_INI)
        project.write(".gitignore", ".help/\n__pycache__/\n")
        for rel, text in files.items():
            project.write(rel, text)
        project.git("init", "-q", "-b", "main")
        project.git("add", "-A")
        project.git("commit", "-qm", "initial")
        return project

    return make


class _BazelCache(BaseHTTPRequestHandler):
    """GET/PUT/HEAD /ac/<key> and /cas/<sha256>, kept in memory: a real HTTP remote cache."""

    store: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.store.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def do_HEAD(self) -> None:
        self.send_response(200 if self.path in self.store else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self.store[self.path] = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def remote_cache() -> Iterator[str]:
    """The URL of a Bazel-protocol HTTP cache served from a loopback http.server."""
    handler = type("Handler", (_BazelCache,), {"store": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cache"
    finally:
        server.shutdown()
        server.server_close()
