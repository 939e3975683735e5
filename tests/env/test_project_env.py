"""The project's environment as every command resolves it (helper.envs.project_env), and the test env hash."""

from __future__ import annotations

from pathlib import Path

from helper.envs.project_env import project_environment
from helper.project import load
from helper.testing import envhash
from tests.conftest import write
from tests.env.conftest import fake_venv


def test_pip_project_keeps_its_venv_dir_and_install_venv_moves_it(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project()
    assert project_environment(load(root, environ={})).prefix == root / ".venv"  # nothing yet: .venv
    fake_venv(root / "venv")
    env = project_environment(load(root, environ={}))
    assert env.manager == "pip" and env.prefix == root / "venv" and env.python == root / "venv" / "bin" / "python"
    assert env.reason.startswith("pip (found pyproject.toml)")
    write(root / "config" / "help.toml", '[install]\nvenv = "envs/dev"\n')
    assert project_environment(load(root, environ={})).prefix == root / "envs" / "dev"


def test_uv_project_environment_follows_uv_project_environment(make_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(files={"uv.lock": "version = 1\n"})
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    assert project_environment(load(root, environ={})).prefix == root / ".venv"
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "other")
    env = project_environment(load(root, environ={}))
    assert env.manager == "uv" and env.prefix == root / "other" and env.reason.startswith("uv (found uv.lock)")


def test_switching_the_environment_changes_the_test_env_hash(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    one, other = fake_venv(root / ".venv"), fake_venv(root / "venv")
    parts = [
        envhash.parts(venv=v, root=root, pytest_text="", depends=[], env_vars=[], options=[], environ={})
        for v in (one, other)
    ]
    assert parts[0]["python"] == parts[1]["python"] and parts[0]["environment"] != parts[1]["environment"]


def test_python_setting_names_an_environment_only_by_an_environments_interpreter(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_project()
    other = fake_venv(tmp_path / "elsewhere")
    write(root / "config" / "help.toml", f'python = "{other / "bin" / "python"}"\n')
    env = project_environment(load(root, environ={}))
    assert env.configured and env.prefix == other and env.python == other / "bin" / "python"
    assert "used as it is" in env.reason
    base = tmp_path / "base" / "bin" / "python3.12"  # a base interpreter: what the manager makes .venv from
    base.parent.mkdir(parents=True)
    base.write_text("")
    write(root / "config" / "help.toml", f'python = "{base}"\n')
    env = project_environment(load(root, environ={}))
    assert not env.configured and env.prefix == root / ".venv"
    write(root / "config" / "help.toml", 'python = "3.12"\n')
    assert project_environment(load(root, environ={})).prefix == root / ".venv"
