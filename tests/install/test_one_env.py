"""One environment: install, test, run and `env --python` agree on it, on the real tools and the local index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, need_tool, run_help, write
from tests.install import samples
from tests.install.conftest import PY, Index, venv_versions


def _project(root: Path, dependency: str, extra: str = "") -> None:
    write(
        root / "pyproject.toml",
        f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.8"\ndependencies = ["{dependency}"]\n'
        + extra,
    )


def _same(path: str | Path, other: str | Path) -> bool:
    return os.path.realpath(path) == os.path.realpath(other)


def _agree(root: Path, python: Path, env: dict[str, str] | None = None) -> None:
    """`test`, `run` and `env --python` all name `python`; `test` says how to add pytest and changes nothing."""
    before = venv_versions(python.parent.parent, ".")
    tested = run_help("test", cwd=root, env=env, timeout=600)
    assert tested.returncode == 1
    assert f"pytest is not installed in {python.parent.parent}" in tested.stderr, tested.stderr
    assert "help.py install pytest --dev" in tested.stderr and "-m pip" not in tested.stderr
    assert venv_versions(python.parent.parent, ".") == before
    write(root / "Procfile", "show: python -c 'import sys; print(sys.prefix)'\n")
    plan = run_help("run", "plan", "--json", cwd=root, env=env)
    assert plan.returncode == 0, plan.stderr
    assert _same(json.loads(plan.stdout)["python"], python)
    chosen = run_help("env", "--python", cwd=root, env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert _same(chosen.stdout.strip(), python)


def test_uv_lock_pins_an_older_version_and_every_command_sees_it(tmp_path: Path) -> None:
    uv = need_tool("uv", "pip install uv")
    root = tmp_path / "proj"
    _project(root, "delta==1.0")
    subprocess.run([uv, "lock", "-q"], cwd=root, check=True)
    _project(root, "delta>=1.0")  # delta 1.1 is allowed now, the lock keeps 1.0
    subprocess.run([uv, "lock", "-q"], cwd=root, check=True)
    assert 'name = "delta"\nversion = "1.0"' in (root / "uv.lock").read_text()
    installed = run_help("install", "--json", cwd=root, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert venv_versions(root)["delta"] == "1.0"
    _agree(root, root / ".venv" / "bin" / "python")


def test_uv_project_pinned_to_3_12_gets_3_12(tmp_path: Path) -> None:
    uv = need_tool("uv", "pip install uv")
    pyenv = need_tool("pyenv", "install pyenv with a 3.12")
    found = subprocess.run([pyenv, "prefix", "3.12"], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip("pyenv has no 3.12")
    # uv itself from where it really is: a pyenv shim would follow .python-version to a 3.12 without uv.
    real_uv = subprocess.run([pyenv, "which", "uv"], capture_output=True, text=True).stdout.strip() or uv
    path = [f"{found.stdout.strip()}/bin", os.path.dirname(real_uv), os.environ["PATH"]]
    env = {"PATH": os.pathsep.join(path)}
    root = tmp_path / "proj"
    _project(root, "delta==1.0", "\n[tool.uv]\npackage = false\n")
    write(root / ".python-version", "3.12\n")
    installed = run_help("install", cwd=root, env=env, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert "version_info = 3.12" in (root / ".venv" / "pyvenv.cfg").read_text()
    _agree(root, root / ".venv" / "bin" / "python", env)


def test_poetry_with_its_envs_outside_the_project_makes_one_env(tmp_path: Path, index: Index) -> None:
    need_tool("poetry", "pip install poetry")
    envs = tmp_path / "virtualenvs"
    env = {"POETRY_VIRTUALENVS_IN_PROJECT": "false", "POETRY_VIRTUALENVS_PATH": str(envs)}
    root = tmp_path / "proj"
    _project(root, "delta==1.0", samples.TOOL["poetry"].format(url=index.url))
    installed = run_help("install", cwd=root, env=env, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert not (root / ".venv").exists()
    made = [p for p in envs.iterdir() if (p / "pyvenv.cfg").is_file()]
    assert len(made) == 1
    assert venv_versions(made[0], ".")["delta"] == "1.0"
    _agree(root, made[0] / "bin" / "python", env)
    assert [p for p in envs.iterdir() if (p / "pyvenv.cfg").is_file()] == made and not (root / ".venv").exists()
    shutil.rmtree(envs)


# -- with pytest from the local index: the tests themselves report what they ran in -------------

SEEN_TEST = """import json, sys
from pathlib import Path

import delta


def test_reports_what_it_runs_in():
    seen = {"prefix": sys.prefix, "delta": delta.__version__}
    (Path(__file__).resolve().parents[1] / "seen.json").write_text(json.dumps(seen))
"""


def _fresh(root: Path, dependency: str, tool: str = "") -> None:
    """A fresh project, a git repository: delta from the index, pytest in the dev group, one test."""
    write(
        root / "pyproject.toml",
        f'[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["{dependency}"]\n'
        f'\n[dependency-groups]\ndev = ["pytest"]\n{tool}',
    )
    write(root / "tests" / "test_seen.py", SEEN_TEST)
    write(root / ".gitignore", ".venv/\nvenv/\n.help/\nseen.json\n")
    write(root / "Procfile", "show: python -c 'import sys; print(\"prefix=\" + sys.prefix)'\n")
    git(root, "init", "-q", "-b", "main")


def _all_agree(root: Path, prefix: Path, delta: str, env: dict[str, str] | None = None) -> None:
    """`test` (the tests themselves), `run` (a process printing sys.prefix) and `env --python` name `prefix`."""
    tested = run_help("test", cwd=root, env=env, timeout=600)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    seen = json.loads((root / "seen.json").read_text())
    assert _same(seen["prefix"], prefix) and seen["delta"] == delta, seen
    ran = run_help("run", cwd=root, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    printed = [
        line.split("prefix=", 1)[1].strip() for line in (ran.stdout + ran.stderr).splitlines() if "prefix=" in line
    ]
    assert printed and _same(printed[0], prefix), ran.stdout + ran.stderr
    chosen = run_help("env", "--python", cwd=root, env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert _same(chosen.stdout.strip(), prefix / "bin" / "python")
    shown = json.loads(run_help("env", "--json", cwd=root, env=env).stdout)
    assert _same(shown["chosen"]["prefix"], prefix), shown["chosen"]


def test_pdm_lock_pins_an_older_version_and_every_command_sees_it(tmp_path: Path, index: Index) -> None:
    pdm = need_tool("pdm", "pip install pdm")
    root = tmp_path / "proj"
    tool = samples.TOOL["pdm"].format(url=index.url)
    quiet = {**os.environ, "PDM_CHECK_UPDATE": "false", "PDM_NON_INTERACTIVE": "1"}
    _fresh(root, "delta==1.0", tool)
    subprocess.run([pdm, "lock", "-q"], cwd=root, check=True, env=quiet, capture_output=True)
    _fresh(root, "delta>=1.0", tool)  # delta 1.1 is allowed now, the lock keeps 1.0
    subprocess.run([pdm, "lock", "--update-reuse", "-q"], cwd=root, check=True, env=quiet, capture_output=True)
    assert 'name = "delta"\nversion = "1.0"' in (root / "pdm.lock").read_text()
    installed = run_help("install", cwd=root, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert venv_versions(root)["delta"] == "1.0"
    _all_agree(root, root / ".venv", "1.0")


@pytest.mark.parametrize("folder", [".venv", "venv"])
def test_pip_and_venv_every_command_uses_the_one_environment(tmp_path: Path, folder: str) -> None:
    root = tmp_path / "proj"
    _fresh(root, "delta>=1.0")
    if folder == "venv":  # an environment the project already keeps in venv/ stays there
        subprocess.run([PY, "-m", "venv", str(root / "venv")], check=True)
    installed = run_help("install", cwd=root, timeout=600)
    assert installed.returncode == 0, installed.stderr
    assert venv_versions(root, folder)["delta"] == "1.1"  # no lock: the newest the manifest allows
    assert not (root / (".venv" if folder == "venv" else "venv")).exists()
    _all_agree(root, root / folder, "1.1")


def test_uv_tests_run_against_the_lock_not_the_newest(tmp_path: Path) -> None:
    uv = need_tool("uv", "pip install uv")
    root = tmp_path / "proj"
    tool = "\n[tool.uv]\npackage = false\n"
    _fresh(root, "delta==1.0", tool)
    subprocess.run([uv, "lock", "-q"], cwd=root, check=True)
    _fresh(root, "delta>=1.0", tool)
    subprocess.run([uv, "lock", "-q"], cwd=root, check=True)
    assert 'name = "delta"\nversion = "1.0"' in (root / "uv.lock").read_text()
    installed = run_help("install", cwd=root, timeout=600)
    assert installed.returncode == 0, installed.stderr
    _all_agree(root, root / ".venv", "1.0")
