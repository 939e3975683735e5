"""`help.py test` never changes a tracked file, even when the editable install runs setuptools' egg_info."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, need_tool, run_help, write

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "demo"
version = "1.0"

[tool.setuptools]
packages = ["demo"]
"""


def test_tracked_egg_info_is_left_as_it_was(tmp_path: Path) -> None:
    need_tool("uv")
    root = tmp_path / "demo"
    write(root / "pyproject.toml", PYPROJECT)
    write(root / "demo/__init__.py", "def f():\n    return 1\n")
    write(root / "tests/test_demo.py", "from demo import f\n\n\ndef test_f():\n    assert f() == 1\n")
    # As in an sdist: an egg-info folder whose SOURCES.txt an egg_info run would rewrite.
    write(root / "demo.egg-info/SOURCES.txt", "pyproject.toml\ndemo/__init__.py\n")
    write(root / "demo.egg-info/PKG-INFO", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    write(root / ".gitignore", ".help/\n__pycache__/\n/env/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    venv = root / "env"
    uv = shutil.which("uv")
    assert uv is not None
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    result = run_help("test", cwd=root, env={"HELP_TEST__VENV": str(venv)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout + result.stderr
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == ""
