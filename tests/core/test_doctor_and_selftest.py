"""`doctor` findings and the self-hosted `test` command on a real project."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_help, write


def test_doctor_on_a_healthy_project(make_project) -> None:
    root = make_project()
    result = run_help("doctor", "--json", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in ("config", "python", "project", "cache", "journal"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "plugin sandbox" in checks


def test_doctor_flags_a_corrupt_journal_with_the_fix(make_project) -> None:
    root = make_project()
    (root / ".help").mkdir()
    (root / ".help" / "journal.sqlite").write_bytes(b"this is not a database" * 100)
    result = run_help("doctor", "--json", cwd=root)
    assert result.returncode == 1
    journal = next(c for c in json.loads(result.stdout) if c["name"] == "journal")
    assert journal["status"] == "fail" and "move" in journal["hint"]


def test_doctor_on_a_malformed_pyproject_names_the_line_and_still_finds_the_project(make_project) -> None:
    root = make_project()
    text = (root / "pyproject.toml").read_text()
    write(root / "pyproject.toml", text.replace('"', "", 1))  # a missing quote
    (root / "sub").mkdir()
    result = run_help("doctor", "--json", cwd=root / "sub")
    assert result.returncode == 1, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["config"]["status"] == "fail" and "pyproject.toml:" in checks["config"]["detail"]
    project = checks["project"]
    assert str(root) in project["detail"] and "no pyproject.toml" not in project["detail"], project


def test_doctor_outside_any_project_warns(tmp_path: Path) -> None:
    lonely = tmp_path / "nothing-here"
    lonely.mkdir()
    result = run_help("doctor", "--json", cwd=lonely)
    project = next(c for c in json.loads(result.stdout) if c["name"] == "project")
    assert project["status"] == "warn"


def test_self_hosted_test_makes_the_env_and_reports_pytest_exit_codes(make_project) -> None:
    root = make_project(
        pyproject="""
        [project]
        name = "calc"
        version = "0.1.0"
        [project.optional-dependencies]
        dev = ["pytest"]
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [tool.setuptools]
        py-modules = ["calc"]
        """,
        files={
            "calc.py": "def add(a, b):\n    return a - b\n",
            "tests/test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n",
        },
    )
    failed = run_help("test", "-q", cwd=root, timeout=600)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 failed" in failed.stdout
    assert (root / ".venv" / "bin" / "python").exists()
    write(root / "calc.py", "def add(a, b):\n    return a + b\n")
    passed = run_help("test", "--", "-q", cwd=root)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    # The tests ran in the project's environment, synced by its manager (pip: editable, with the dev extra).
    marker = json.loads((root / ".help" / "test-env.json").read_text())
    assert marker["manager"] == "pip" and marker["prefix"] == str(root / ".venv")
    history = json.loads(run_help("history", "--json", cwd=root).stdout)
    assert [r["exit_code"] for r in history if r["command"] == "test"][:2] == [0, 1]
