"""`env check` finds what is wrong with a real environment and `env repair` fixes it without losing it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from helper.envs.rebuild import replacing
from tests.conftest import need_tool, run_help
from tests.env.conftest import offline_index, sh, tool_env

DEPS = '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = [\n  "tinydep==1.0",\n  "otherdep>=2",\n  "winonly; sys_platform == \'win32\'",\n]\n'


def findings(result) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    assert result.stdout.strip(), f"no JSON on stdout (exit {result.returncode}): {result.stderr}"
    data = json.loads(result.stdout)
    health = data.get("health", data)
    return {f["check"]: f for f in health["findings"]}


def venv_with(project: Path, env: dict[str, str], *packages: str, uv: bool) -> Path:
    venv = project / ".venv"
    if uv:
        tool = need_tool("uv", "pip install uv")
        sh([tool, "venv", "--python", sys.executable, str(venv)], project, env)
        if packages:
            sh([tool, "pip", "install", "--python", str(venv / "bin/python"), *packages], project, env)
    else:
        sh([sys.executable, "-m", "venv", str(venv)], project, env)
        if packages:
            sh([str(venv / "bin/python"), "-m", "pip", "install", *packages], project, env)
    return venv


def test_check_finds_missing_and_wrong_packages_and_repair_installs_them(
    make_project, wheels: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project = make_project(DEPS)
    env = tool_env(tmp_path, **offline_index(wheels))
    venv_with(project, env, "tinydep==0.9", uv=True)
    checked = run_help("env", "check", "--json", cwd=project, env=env)
    assert checked.returncode == 1, checked.stderr
    found = findings(checked)
    assert found["packages"]["status"] == "fail" and "otherdep>=2" in found["packages"]["detail"]
    assert "winonly" not in found["packages"]["detail"]  # its marker does not apply here
    assert found["versions"]["status"] == "fail" and "tinydep 0.9 (wants ==1.0)" in found["versions"]["detail"]
    assert found["interpreter"]["status"] == "ok" and found["requires-python"]["status"] == "ok"
    repaired = run_help("env", "repair", "--json", cwd=project, env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert all(f["status"] != "fail" for f in findings(repaired).values())
    out = sh(
        [str(project / ".venv/bin/python"), "-c", "import tinydep, otherdep; print(tinydep.VERSION)"], project, env
    )
    assert out.strip() == "1.0"


def test_moved_venv_is_found_and_rebuilt_with_its_packages(make_project, wheels: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project(DEPS)
    env = tool_env(tmp_path, **offline_index(wheels))
    venv_with(project, env, "tinydep==1.0", "otherdep==2.1", uv=True)
    moved = tmp_path / "moved"
    shutil.move(str(project), moved)
    checked = run_help("env", "check", "--json", cwd=moved, env=env)
    assert checked.returncode == 1
    location = findings(checked)["location"]
    assert location["status"] == "fail" and f"was moved from {project}/.venv" in location["detail"]
    assert location["fix"] == "help.py env repair"
    repaired = run_help("env", "repair", cwd=moved, env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "recreated" in repaired.stdout and "2 package(s) reinstalled" in repaired.stdout
    assert str(moved / ".venv") in (moved / ".venv/bin/activate").read_text()
    sh([str(moved / ".venv/bin/python"), "-c", "import tinydep, otherdep"], moved, env)
    assert not list(moved.glob(".*.old-*"))  # the old copy is gone once the new one is complete


def test_deleted_interpreter_is_found_and_rebuilt_with_pip(make_project, wheels: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project(DEPS)
    env = tool_env(tmp_path, **offline_index(wheels))
    venv = venv_with(project, env, "tinydep==1.0", "otherdep==2.1", uv=False)
    for exe in venv.glob("bin/python*"):
        exe.unlink()
    checked = run_help("env", "check", "--json", cwd=project, env=env)
    assert checked.returncode == 1
    data = json.loads(checked.stdout)
    assert data["environment"]["prefix"] == str(venv)
    assert findings(checked)["interpreter"]["status"] == "fail"
    assert run_help("env", "--python", cwd=project, env=env).stdout.strip() != str(venv / "bin/python")
    repaired = run_help("env", "repair", cwd=project, env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    sh([str(venv / "bin/python"), "-c", "import tinydep, otherdep"], project, env)
    assert run_help("env", "--python", cwd=project, env=env).stdout.strip() == str(venv / "bin/python")


def test_failed_repair_restores_the_old_environment(make_project, wheels: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project(DEPS)
    env = tool_env(tmp_path, **offline_index(wheels))
    venv = venv_with(project, env, "tinydep==1.0", uv=True)
    for exe in venv.glob("bin/python*"):
        exe.unlink()
    (venv / "bin/python").symlink_to("/nowhere/python3")  # as after the base Python was uninstalled
    shutil.rmtree(wheels)  # the packages can no longer be installed
    repaired = run_help("env", "repair", cwd=project, env=env)
    assert repaired.returncode == 1
    assert "error: installing packages failed" in repaired.stderr and "Traceback" not in repaired.stderr
    assert "restored the previous .venv" in repaired.stderr
    assert (venv / "lib").is_dir() and list(venv.glob("lib/python*/site-packages/tinydep"))  # nothing lost
    assert not list(project.glob(".*.old-*"))


def test_replacing_puts_the_old_directory_back_on_ctrl_c(tmp_path: Path) -> None:
    target = tmp_path / ".venv"
    (target / "lib").mkdir(parents=True)
    (target / "lib/keep.txt").write_text("precious")
    with pytest.raises(KeyboardInterrupt), replacing(target):
        target.mkdir()
        (target / "half-made").write_text("x")
        raise KeyboardInterrupt
    assert (target / "lib/keep.txt").read_text() == "precious" and not (target / "half-made").exists()


def test_requires_python_and_python_version_mismatch(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = make_project(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.99"\n', files={".python-version": "3.8\n"}
    )
    sh([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], project, tool_env(tmp_path))
    checked = run_help("env", "check", "--json", "--offline", cwd=project, env={"HELP_PYTHON": "3.9"})
    found = findings(checked)
    assert checked.returncode == 1
    assert found["requires-python"]["status"] == "fail" and "'>=3.99'" in found["requires-python"]["detail"]
    assert found["python setting"]["status"] == "warn" and "asks for 3.9" in found["python setting"]["detail"]
    assert (
        found[".python-version"]["status"] == "warn"
        and found[".python-version"]["fix"] == "help.py env create --force --python 3.8"
    )


def test_uv_lock_out_of_date_is_found_and_relocked(make_project, wheels: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uv = need_tool("uv", "pip install uv")
    project = make_project(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["tinydep"]\n\n[tool.uv]\npackage = false\n'
    )
    env = tool_env(tmp_path, **offline_index(wheels))
    sh([uv, "sync", "--python", sys.executable], project, env)
    text = (project / "pyproject.toml").read_text().replace('["tinydep"]', '["tinydep", "otherdep"]')
    (project / "pyproject.toml").write_text(text)
    checked = run_help("env", "check", "--json", cwd=project, env=env)
    found = findings(checked)
    assert found["lock"]["status"] == "fail" and found["lock"]["fix"] == "uv lock"
    assert found["packages"]["status"] == "fail" and found["packages"]["fix"] == "uv sync"
    repaired = run_help("env", "repair", cwd=project, env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "otherdep" in (project / "uv.lock").read_text()
    sh([str(project / ".venv/bin/python"), "-c", "import otherdep"], project, env)


def test_no_environment_is_a_finding_with_create_as_fix(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project(files={"uv.lock": "version = 1\n"})
    checked = run_help("env", "check", "--json", "--offline", cwd=project)
    assert checked.returncode == 1
    assert findings(checked)["environment"]["fix"] == "uv sync"


@pytest.mark.parametrize("manager", ["poetry", "pdm"])
def test_stale_poetry_and_pdm_locks_are_found(manager: str, make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tool = need_tool(manager, f"pip install {manager}")
    project = make_project('[project]\nname = "lk"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = []\n')
    env = tool_env(tmp_path)
    sh([tool, "lock"], project, env)
    fresh = findings(run_help("env", "check", "--json", cwd=project, env=env))
    assert fresh["lock"]["status"] == "ok", fresh["lock"]
    text = (project / "pyproject.toml").read_text().replace("dependencies = []", 'dependencies = ["tinydep"]')
    (project / "pyproject.toml").write_text(text)
    stale = findings(run_help("env", "check", "--json", cwd=project, env=env))
    assert stale["lock"]["status"] == "fail" and stale["lock"]["fix"] == f"{manager} lock"
    assert f"{manager}.lock is out of date" in stale["lock"]["detail"]


def test_repair_of_a_project_without_env_creates_it_and_installs_its_dependencies(
    make_project, wheels: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project = make_project(DEPS)  # no manager marker: pip's venv, as `install` would make it
    env = tool_env(tmp_path, **offline_index(wheels))
    dry = run_help("env", "repair", "--dry-run", "--json", cwd=project, env=env)
    assert json.loads(dry.stdout)["plan"] == ["create"] and not (project / ".venv").exists()
    repaired = run_help("env", "repair", "--json", cwd=project, env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    applied = json.loads(repaired.stdout)["applied"]
    assert applied[0].startswith("created the venv environment") and applied[1] == "installed 3 declared requirement(s)"
    sh([str(project / ".venv/bin/python"), "-c", "import tinydep, otherdep"], project, env)
