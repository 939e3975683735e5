"""`help.py test` never changes a tracked file, even when the editable install runs setuptools' egg_info."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, run_help, write

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "demo"
version = "1.0"

[project.optional-dependencies]
dev = ["pytest"]

[tool.setuptools]
packages = ["demo"]
"""


def test_tracked_egg_info_is_left_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    write(root / "pyproject.toml", PYPROJECT)
    write(root / "demo/__init__.py", "def f():\n    return 1\n")
    write(root / "tests/test_demo.py", "from demo import f\n\n\ndef test_f():\n    assert f() == 1\n")
    # As in an sdist: an egg-info folder whose SOURCES.txt an egg_info run would rewrite.
    write(root / "demo.egg-info/SOURCES.txt", "pyproject.toml\ndemo/__init__.py\n")
    write(root / "demo.egg-info/PKG-INFO", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    write(root / ".gitignore", ".help/\n__pycache__/\n.venv/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    result = run_help("test", cwd=root)  # the project's own environment, made with its editable install
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout + result.stderr
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == ""
