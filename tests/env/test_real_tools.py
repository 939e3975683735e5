"""Detection against environments made by the real tools: venv, uv, poetry, pdm, hatch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import need_tool, run_help
from tests.env.conftest import PY, real, run_detect, sh, tool_env


def test_real_venv_is_chosen_with_version_from_pyvenv_cfg(project: Path, tmp_path: Path) -> None:
    sh([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], project, tool_env(tmp_path))
    found = run_detect(project)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "venv" and chosen.manager == "venv"
    assert chosen.prefix == str(project / ".venv")
    assert chosen.version == ".".join(map(str, sys.version_info[:3]))
    assert ".venv/pyvenv.cfg" in chosen.reason


def test_real_uv_project(project: Path, tmp_path: Path) -> None:
    uv = need_tool("uv", "pip install uv")
    env = tool_env(tmp_path)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.uv]\npackage = false\n")
    sh([uv, "sync", "--offline", "--python", sys.executable], project, env)
    found = run_detect(project, environ=env)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "uv" and chosen.manager == "uv"
    assert chosen.reason.startswith("uv project: uv.lock and [tool.uv] and .venv/pyvenv.cfg uv=")
    assert real(chosen.executable) == real(sh([uv, "python", "find"], project, env).strip())


def test_real_poetry_env_name_matches_poetry(project: Path, tmp_path: Path) -> None:
    poetry = need_tool("poetry", "pip install poetry")
    env = tool_env(tmp_path)
    sh([poetry, "env", "use", sys.executable], project, env)
    expected = sh([poetry, "env", "info", "-p"], project, env).strip()
    assert Path(expected).name.startswith("sample-proj-") and expected.endswith(f"-py{PY}")
    found = run_detect(project, environ=env)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "poetry", found.to_dict()
    assert chosen.prefix == expected
    assert "envs.toml" in chosen.reason  # poetry recorded which minor version is selected


def test_real_poetry_in_project_setting(project: Path, tmp_path: Path) -> None:
    poetry = need_tool("poetry", "pip install poetry")
    env = tool_env(tmp_path)
    (project / "poetry.toml").write_text("[virtualenvs]\nin-project = true\n")
    sh([poetry, "env", "use", sys.executable], project, env)
    found = run_detect(project, environ=env)
    assert found.chosen is not None and found.chosen.prefix == str(project / ".venv")
    assert found.chosen.kind == "poetry" and found.chosen.confidence >= 0.95


def test_real_pdm_project(project: Path, tmp_path: Path) -> None:
    pdm = need_tool("pdm", "pip install pdm")
    env = tool_env(tmp_path)
    sh([pdm, "use", "-f", sys.executable], project, env)
    expected = sh([pdm, "info", "--python"], project, env).strip()
    found = run_detect(project, environ=env)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pdm" and chosen.manager == "pdm"
    assert chosen.executable == expected
    assert ".pdm-python" in chosen.reason


def test_real_hatch_env_path_matches_hatch(project: Path, tmp_path: Path) -> None:
    hatch = need_tool("hatch", "pip install hatch")
    env = tool_env(tmp_path)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write("\n[tool.hatch.envs.default]\nskip-install = true\n")
    sh([hatch, "env", "create"], project, env)
    expected = sh([hatch, "env", "find"], project, env).strip()
    found = run_detect(project, environ=env)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "hatch", found.to_dict()
    assert chosen.prefix == expected


def test_cli_env_json_and_python_agree(project: Path, tmp_path: Path) -> None:
    sh([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], project, tool_env(tmp_path))
    shown = run_help("env", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    chosen = data["chosen"]
    for key in ("name", "kind", "executable", "prefix", "version", "manager", "project", "reason"):
        assert key in chosen
    assert chosen["project"] == str(project) and chosen["prefix"] == str(project / ".venv")
    assert data["cached"] is False
    first = run_help("env", "--python", cwd=project)  # served from the cache the --json run wrote
    assert first.returncode == 0 and first.stdout.strip() == chosen["executable"]
    table = run_help("env", cwd=project)
    assert table.returncode == 0 and "chosen: " + chosen["executable"] in table.stdout


def test_real_pipenv_env_name_matches_pipenv(tmp_path: Path) -> None:
    pipenv = need_tool("pipenv", "pip install pipenv")
    project = tmp_path / "My Proj"
    project.mkdir()
    (project / "Pipfile").write_text(f'[packages]\n\n[requires]\npython_version = "{PY}"\n')
    env = tool_env(
        tmp_path, WORKON_HOME=str(tmp_path / "workon"), PIPENV_YES="1", PIPENV_NOSPIN="1", PIPENV_IGNORE_VIRTUALENVS="1"
    )
    sh([pipenv, "--python", sys.executable], project, env, timeout=300)
    expected = sh([pipenv, "--venv"], project, env).strip()
    found = run_detect(project, environ=env)
    chosen = found.chosen
    assert chosen is not None and chosen.kind == "pipenv", found.to_dict()
    assert chosen.prefix == expected and chosen.name.startswith("My_Proj-")
