"""Files written for the user get 0666 less the umask, secrets 0600; no manifest is invented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HELP, clean_env, git, run_help, write


def help_with_umask(mask: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HELP), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(mask),  # the single-threaded test process forks here
    )


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_env_report_follows_the_umask(tmp_path: Path, mask: int) -> None:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[project]\nname = "demo"\nversion = "0.1.0"\n')
    result = help_with_umask(mask, "env", "report", cwd=root)
    assert result.returncode == 0, result.stderr
    reports = sorted(root.rglob("env-report.*"))
    assert reports, result.stdout
    for path in reports:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_a_rewritten_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    from helper.fsutil import atomic_write, current_umask

    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    atomic_write(kept, "new")
    assert kept.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.txt"
    atomic_write(fresh, "x")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    secret = tmp_path / "secret.txt"
    atomic_write(secret, "s", mode=0o600)
    assert secret.stat().st_mode & 0o777 == 0o600


def test_install_in_a_folder_holding_only_git_is_one_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    root.mkdir()
    git(root, "init", "-q")
    result = run_help("install", "idna", cwd=root, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no pyproject.toml or requirements.txt" in result.stderr and "uv init" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in root.iterdir() if p.name != ".help") == [".git"]


def test_install_pkg_into_a_pyproject_without_a_project_table_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tools-only"
    write(root / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    before = (root / "pyproject.toml").read_text()
    result = run_help("install", "idna", cwd=root, env={"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "has no [project] name" in result.stderr
    assert (root / "pyproject.toml").read_text() == before
