"""Manager detection from marker files, the config override, and the conda manager's file edits and commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from helper.managers import conda, registry
from helper.managers.envcheck import Requirement
from helper.project import load
from tests.conftest import run_help, write


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"uv.lock": "", "pyproject.toml": "[tool.poetry]\n"}, "uv"),
        ({"poetry.lock": ""}, "poetry"),
        ({"pyproject.toml": "[tool.poetry]\npackage-mode = false\n"}, "poetry"),
        ({"pdm.lock": ""}, "pdm"),
        ({"pyproject.toml": "[tool.pdm]\n"}, "pdm"),
        ({"pyproject.toml": "[tool.uv]\n"}, "uv"),
        ({"environment.yml": "dependencies:\n  - numpy\n"}, "conda"),
        ({"requirements.txt": "alpha\n"}, "pip"),
        ({"pyproject.toml": '[project]\nname = "x"\n'}, "pip"),
    ],
)
def test_detection_from_marker_files(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    for rel, text in files.items():
        write(tmp_path / rel, text)
    (tmp_path / ".git").mkdir()
    manager, reason = registry.choose(load(tmp_path, environ={}))
    assert manager.name == expected
    assert reason.startswith("found ")


def test_config_overrides_detection(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.help]\nmanager = "pdm"\n')
    write(tmp_path / "uv.lock", "")
    manager, reason = registry.choose(load(tmp_path, environ={}))
    assert manager.name == "pdm" and "pyproject.toml" in reason
    env_choice, _ = registry.choose(load(tmp_path, environ={"HELP_MANAGER": "pip"}))
    assert env_choice.name == "pip"


def test_conda_commands_per_tool(tmp_path: Path) -> None:
    prefix, file = tmp_path / ".conda", tmp_path / "environment.yml"
    assert conda.create_cmd("/opt/bin/micromamba", prefix, file) == [
        "/opt/bin/micromamba",
        "create",
        "-y",
        "-p",
        str(prefix),
        "-f",
        str(file),
    ]
    assert conda.create_cmd("conda", prefix, file) == [
        "conda",
        "env",
        "create",
        "-y",
        "-p",
        str(prefix),
        "-f",
        str(file),
    ]
    assert conda.update_cmd("mamba", prefix, file) == [
        "mamba",
        "env",
        "update",
        "-p",
        str(prefix),
        "-f",
        str(file),
        "--prune",
    ]
    assert conda.update_cmd("micromamba", prefix, file)[:2] == ["micromamba", "install"]
    assert conda.remove_cmd("conda", prefix, ["numpy"]) == ["conda", "remove", "-y", "-p", str(prefix), "numpy"]
    assert conda.upgrade_cmd("conda", prefix, []) == ["conda", "update", "-y", "-p", str(prefix), "--all"]
    assert conda.conda_spec(Requirement("numpy>=1.26,<2")) == "numpy>=1.26,<2"
    assert conda.conda_spec(Requirement("numpy==1.26.4")) == "numpy==1.26.4"
    with pytest.raises(Exception, match="conda spec"):
        conda.conda_spec(Requirement("numpy; sys_platform == 'linux'"))


def test_conda_project_without_conda_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    text = "name: demo\ndependencies:\n  - python=3.11  # interpreter\n"
    write(root / "environment.yml", text)
    (root / ".git").mkdir()
    bare = {"PATH": "/nonexistent", "CONDA_EXE": "", "MAMBA_EXE": ""}
    result = run_help("install", "numpy>=1.26", cwd=root, env=bare)
    assert result.returncode == 1
    assert "neither micromamba, mamba nor conda is installed" in result.stderr
    assert (root / "environment.yml").read_text() == text
    assert not (root / ".help" / "backups" / "pending.json").exists()


def test_conda_file_edit_through_the_manager(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "environment.yml", "name: demo\ndependencies:\n  - python=3.11\n  - pip:\n    - requests\n")
    (root / ".git").mkdir()
    manager, _ = registry.choose(load(root, environ={}))
    assert isinstance(manager, conda.Conda)
    manager.edit_add([Requirement("numpy>=1.26")], manager_target())
    manager.edit_remove(["requests"])
    assert (
        root / "environment.yml"
    ).read_text() == "name: demo\ndependencies:\n  - python=3.11\n  - numpy>=1.26\n  - pip:\n"
    assert manager.declared() == ["python", "numpy"]


def manager_target():  # type: ignore[no-untyped-def]
    from helper.managers.base import Target

    return Target()


def test_doctor_reports_manager_tool_and_environment(tmp_path: Path) -> None:
    import json

    write(tmp_path / "uv.lock", "")
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    result = run_help("doctor", "--json", cwd=tmp_path, env={"PATH": "/nonexistent"})
    data = json.loads(result.stdout)
    checks = {c["name"]: c for c in (data if isinstance(data, list) else data["checks"])}
    assert checks["install manager"]["detail"] == "uv (found uv.lock)"
    assert checks["install tool uv"]["status"] == "fail" and "pip install uv" in checks["install tool uv"]["hint"]
    assert checks["install environment"]["status"] == "warn"
