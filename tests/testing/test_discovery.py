"""Finding tests without pytest: configuration precedence, test files, conftest chains, components."""

from __future__ import annotations

from pathlib import Path

from helper.testing import discovery
from tests.conftest import write


def test_pytest_config_precedence(tmp_path: Path) -> None:
    assert discovery.pytest_config(tmp_path, {}).python_files == ["test_*.py", "*_test.py"]
    write(tmp_path / "setup.cfg", "[tool:pytest]\ntestpaths = a\n")
    assert discovery.pytest_config(tmp_path, {}).testpaths == ["a"]
    write(tmp_path / "tox.ini", "[pytest]\ntestpaths = b\n")
    assert discovery.pytest_config(tmp_path, {}).testpaths == ["b"]
    pyproject = {"tool": {"pytest": {"ini_options": {"testpaths": ["c"], "python_files": ["check_*.py"]}}}}
    found = discovery.pytest_config(tmp_path, pyproject)
    assert found.testpaths == ["c"] and found.python_files == ["check_*.py"] and found.source == "pyproject.toml"
    write(tmp_path / "pytest.ini", "[pytest]\ntestpaths = d e\n")
    assert discovery.pytest_config(tmp_path, pyproject).testpaths == ["d", "e"]


def test_test_files_follow_patterns_and_testpaths() -> None:
    files = [
        "tests/test_a.py",
        "tests/b_test.py",
        "tests/conftest.py",
        "tests/helper.py",
        "other/test_x.py",
        "tests/data/test_y.txt",
    ]
    config = discovery.PytestConfig(testpaths=["tests"])
    assert discovery.test_files(files, config) == ["tests/test_a.py", "tests/b_test.py"]
    assert "other/test_x.py" in discovery.test_files(files, discovery.PytestConfig())


def test_conftest_chain() -> None:
    files = {
        "conftest.py",
        "tests/conftest.py",
        "tests/unit/deep/test_a.py",
        "tests/unit/conftest.py",
        "tests/other/conftest.py",
    }
    assert discovery.conftests("tests/unit/deep/test_a.py", files) == [
        "tests/unit/conftest.py",
        "tests/conftest.py",
        "conftest.py",
    ]


def test_components_found_or_configured(tmp_path: Path) -> None:
    files = [
        "app/__init__.py",
        "app/views.py",
        "src/lib/__init__.py",
        "tests/api/test_a.py",
        "tests/test_top.py",
        "docs/x.md",
    ]
    assert discovery.components(tmp_path, {}, files) == {"api": ["tests/api"], "app": ["app"], "lib": ["src/lib"]}
    assert discovery.components(tmp_path, {"web": ["app", "tests/web"]}, files) == {"web": ["app", "tests/web"]}


def test_normalise_arg(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    assert discovery.normalise_arg("tests/test_a.py::test_x", tmp_path, tmp_path) == "tests/test_a.py::test_x"
    assert discovery.normalise_arg("test_a.py", tmp_path, tmp_path / "tests") == "tests/test_a.py"
    assert discovery.normalise_arg(".", tmp_path, tmp_path) == ""
