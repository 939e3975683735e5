"""Plugins that run project code run it in the project's environment (helper.envs.project_env)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helper.project import load
from tests.conftest import need_tool, run_help, write


def _venv(prefix: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    return prefix


def test_sandbox_python_is_the_project_environment_even_outside_the_project(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need_tool("bwrap", "sudo apt-get install bubblewrap")
    root = make_project()
    _venv(root / "venv")  # a pip project keeps its environment in venv/
    ask = ["sandbox", "run", "--backend", "bwrap", "--", "python", "-c", "import sys; print(sys.prefix)"]
    shown = run_help(*ask, cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(root / "venv")
    elsewhere = _venv(tmp_path / "envs" / "other")  # named by the `python` setting, outside the project
    write(root / "config" / "help.toml", f'python = "{elsewhere / "bin" / "python"}"\n')
    shown = run_help(*ask, cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(elsewhere), "mounted read-only and first on PATH inside the sandbox"
    assert run_help("env", "--python", cwd=root).stdout.strip() == str(elsewhere / "bin" / "python")


def test_agent_tests_run_in_the_environment_help_py_test_uses(make_project) -> None:  # type: ignore[no-untyped-def]
    from plugins.agent.command import _venv as agent_env

    root = make_project()
    assert agent_env(load(root, environ={})) is None  # nothing yet: the agent's tests fall back to help.py's own
    prefix = _venv(root / "venv")
    found = agent_env(load(root, environ={}))
    assert found == prefix.resolve()  # read-only inside the agent's sandbox
    write(root / "config" / "help.toml", '[install]\nvenv = "envs/dev"\n')  # moves the project's environment
    assert agent_env(load(root, environ={})) is None
    moved = _venv(root / "envs" / "dev")
    assert agent_env(load(root, environ={})) == moved.resolve()
