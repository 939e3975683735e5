"""Shared test helpers: call help.py as a user does, make projects and git repos, require real tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELP = ROOT / "help.py"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PYTHON_TOOLS = ("uv", "uvx", "poetry", "pdm", "hatch", "pipenv")


def _expose_venv_tools() -> None:
    """The Python tools the tests drive come with the dev extra into the test environment.

    Those missing from PATH are linked (only they: not the venv's python) into a
    directory appended to PATH, for the tests and every help.py they start.
    """
    import atexit
    import tempfile

    venv_bin = Path(sys.executable).parent
    found = [venv_bin / n for n in PYTHON_TOOLS if (venv_bin / n).is_file() and not shutil.which(n)]
    if not found:
        return
    folder = Path(tempfile.mkdtemp(prefix="help-test-tools-"))
    atexit.register(shutil.rmtree, folder, True)
    for tool in found:
        (folder / tool.name).symlink_to(tool)
    os.environ["PATH"] = os.pathsep.join([*filter(None, [os.environ.get("PATH")]), str(folder)])


_expose_venv_tools()


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment minus HELP_* settings and colour forcing, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELP_")}
    env.pop("VIRTUAL_ENV", None)
    # pyenv's shim exports the version it picked; a test must not inherit that choice.
    env.pop("PYENV_VERSION", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_help(
    *args: str,
    cwd: Path | str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python help.py ARGS` in `cwd` as a user would, capturing output."""
    return subprocess.run(
        [sys.executable, str(HELP), *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def need_tool(name: str, hint: str = "") -> str:
    """The path of a real tool; missing fails the test in CI and skips it elsewhere."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed{': ' + hint if hint else ''}"
    if IN_CI:
        pytest.fail(message + " (CI must install it in .ci/run)")
    pytest.skip(message)


def age(root: Path, seconds: float = 60) -> None:
    """Move every mtime under `root` back, as files look a while after they were written.

    Answers are only kept for replay when no input is fresh enough to change again
    unseen within the same mtime tick; tests that check replay age their files first.
    Symlinks are aged themselves, never their targets.
    """
    then = os.stat(root).st_mtime - seconds
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.utime(os.path.join(folder, name), (then, then), follow_symlinks=False)
    os.utime(root, (then, then))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# A sample project whose tests `help.py test` can run: pytest is among its dev dependencies, as
# `help.py test` syncs the project's own environment and never adds pytest by itself.
PYTEST_PROJECT = '[project]\nname = "sample"\nversion = "0.1.0"\n\n[project.optional-dependencies]\ndev = ["pytest"]\n'


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """make_project(pyproject=..., files={path: text}) -> a project directory."""

    def make(
        pyproject: str | None = '[project]\nname = "sample"\nversion = "0.1.0"\n', files: dict[str, str] | None = None
    ) -> Path:
        root = tmp_path / "proj"
        root.mkdir(exist_ok=True)
        if pyproject is not None:
            write(root / "pyproject.toml", pyproject)
        for rel, text in (files or {}).items():
            write(root / rel, text)
        return root

    return make


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    ).stdout


@pytest.fixture
def git_repo(make_project: Callable[..., Path]) -> Callable[..., Path]:
    """git_repo(files={...}) -> a project that is a git repository with one commit."""

    def make(**kwargs: object) -> Path:
        root = make_project(**kwargs)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "initial")
        return root

    return make
