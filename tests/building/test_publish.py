"""--publish to a real pypiserver on loopback, then pip install back from it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.building.conftest import package_name
from tests.conftest import run_help

CREDS = {"TWINE_USERNAME": "alice", "TWINE_PASSWORD": "s3cret-pw"}


def pip_install_back(python: Path, index: str, requirement: str, target: Path) -> str:
    """pip-install `requirement` from `index` into `target` and call the package from there."""
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-cache-dir",
            "--target",
            str(target),
            "--index-url",
            index,
            "--extra-index-url",
            "https://pypi.org/simple",
            requirement,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    code = "import demo_hatchling.core as c, demo_hatchling; print(c.answer(), demo_hatchling.__file__)"
    out = subprocess.run(
        [str(python), "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    answer, location = out.stdout.split()
    assert location.startswith(str(target))
    return answer


@pytest.mark.parametrize("publisher", ["builtin", "auto", "twine"])
def test_publish_and_install_back(publisher, backend_project, build_env, pypiserver, tools_python, tmp_path):
    root = backend_project("hatchling")
    env = {**build_env, **CREDS, "HELP_BUILD__PUBLISHER": publisher}
    if publisher == "twine":  # twine lives in the tools venv
        env["PATH"] = f"{tools_python.parent}{os.pathsep}{os.environ['PATH']}"
    result = run_help("build", "--publish", "--repository", pypiserver["url"], cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    expected = publisher if publisher != "auto" else ("uv" if shutil.which("uv") else "builtin")
    assert f"with {expected}" in result.stdout + result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    uploaded = sorted(p.name for p in Path(pypiserver["packages"]).iterdir())
    assert uploaded == ["demo_hatchling-0.3.0-py3-none-any.whl", "demo_hatchling-0.3.0.tar.gz"]
    assert pip_install_back(tools_python, pypiserver["simple"], "demo-hatchling==0.3.0", tmp_path / "site") == "42"


def test_wrong_password_fails_without_showing_it(backend_project, build_env, pypiserver):
    root = backend_project("hatchling")
    env = {**build_env, "TWINE_USERNAME": "alice", "TWINE_PASSWORD": "wrong-pw-xyz", "HELP_BUILD__PUBLISHER": "builtin"}
    result = run_help("build", "--publish", "--repository", pypiserver["url"], cwd=root, env=env)
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr or "HTTP 403" in result.stderr
    assert "wrong-pw-xyz" not in result.stdout + result.stderr
    assert list(Path(pypiserver["packages"]).iterdir()) == []


def test_missing_credentials_and_unreachable_server(backend_project, build_env):
    root = backend_project("hatchling")
    result = run_help("build", "--publish", "--repository", "http://127.0.0.1:9/", cwd=root, env=build_env)
    assert result.returncode == 1
    assert "no upload credentials" in result.stderr and "TWINE_PASSWORD" in result.stderr
    env = {**build_env, **CREDS, "HELP_BUILD__PUBLISHER": "builtin"}
    result = run_help("build", "--publish", "--repository", "http://127.0.0.1:9/", cwd=root, env=env)
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9/" in result.stderr


def test_failed_publish_rolls_back_the_release(backend_project, build_env):
    from tests.conftest import git

    root = backend_project("hatchling")
    head = git(root, "rev-parse", "HEAD")
    env = {**build_env, **CREDS, "HELP_BUILD__PUBLISHER": "builtin"}
    result = run_help(
        "build", "--bump", "patch", "--tag", "--publish", "--repository", "http://127.0.0.1:9/", cwd=root, env=env
    )
    assert result.returncode == 1
    assert "rolled back: tag v0.3.1, commit, bump 0.3.0 -> 0.3.1" in result.stderr
    assert git(root, "rev-parse", "HEAD") == head and git(root, "tag", "--list") == ""
    assert '__version__ = "0.3.0"' in (root / "src" / package_name("hatchling") / "__init__.py").read_text()
