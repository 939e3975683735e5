"""A fresh clone of a sample project of each kind ends ready after one `help.py install`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, need_tool, run_help
from tests.install import samples
from tests.install.conftest import Index, venv_versions


@pytest.mark.parametrize("kind", ["requirements", "pip", "uv", "poetry", "pdm"])
def test_fresh_clone_ends_ready(kind: str, tmp_path: Path, index: Index) -> None:
    if kind in samples.LOCKS:
        need_tool(kind, f"pip install {kind}")
    origin = samples.make(kind, tmp_path / "origin", index.url)
    if kind in samples.LOCKS:
        # The author's side: make the lock once and commit it with the project.
        made = run_help("install", cwd=origin)
        assert made.returncode == 0, made.stderr
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "sample")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert not (clone / ".venv").exists()

    result = run_help("install", "--json", cwd=clone)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files_changed"] == []  # the committed lock was used as is
    versions = venv_versions(clone)
    assert versions["beta"] == "1.0" and versions["alpha"] == "1.0"
    check = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-c", "import alpha, beta; print(alpha.__version__)"],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "1.0"
    assert git(clone, "status", "--porcelain") == ""  # nothing in the clone was modified
    noop = run_help("install", "--json", cwd=clone)
    assert json.loads(noop.stdout)["status"] == "in-sync"
