"""The pip path against the local index: an exact sync, downgrades named as such, lower bounds written."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.conftest import run_help, write
from tests.install.conftest import venv_versions


def _manifest(root: Path, *deps: str) -> None:
    listed = ", ".join(f'"{d}"' for d in deps)
    write(root / "pyproject.toml", f'[project]\nname = "app"\nversion = "0.1.0"\ndependencies = [{listed}]\n')


def test_sync_removes_what_the_manifest_no_longer_asks_for(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _manifest(root, "beta")
    assert run_help("install", cwd=root).returncode == 0
    assert {"alpha", "beta"} <= set(venv_versions(root))
    _manifest(root, "delta==1.0")
    synced = run_help("install", "--json", cwd=root)
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    assert {p["name"] for p in summary["removed"]} >= {"alpha", "beta"}
    versions = venv_versions(root)
    assert "alpha" not in versions and "beta" not in versions
    assert versions["delta"] == "1.0" and "pip" in versions  # pip itself stays


def test_a_downgrade_is_printed_and_counted_as_one(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _manifest(root, "alpha")
    assert run_help("install", cwd=root).returncode == 0
    assert venv_versions(root)["alpha"] == "2.0"
    _manifest(root, "alpha==1.0")
    down = run_help("install", cwd=root)
    assert down.returncode == 0, down.stderr
    assert "v alpha 2.0 -> 1.0" in down.stdout and "^ alpha" not in down.stdout
    assert "0 upgraded, 1 downgraded" in down.stdout + down.stderr


def test_install_pkg_writes_the_lower_bound_of_what_was_installed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _manifest(root)
    added = run_help("install", "delta", cwd=root)
    assert added.returncode == 0, added.stderr
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"] == ["delta>=1.1"]
    assert venv_versions(root)["delta"] == "1.1"


def test_uninstall_also_removes_what_only_the_removed_package_needed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _manifest(root, "beta", "delta")
    assert run_help("install", cwd=root).returncode == 0
    assert {"alpha", "beta", "delta"} <= set(venv_versions(root))
    removed = run_help("uninstall", "beta", cwd=root)
    assert removed.returncode == 0, removed.stderr
    versions = venv_versions(root)
    assert "beta" not in versions and "alpha" not in versions  # alpha was there only for beta
    assert "delta" in versions and "pip" in versions
    again = run_help("install", "--json", cwd=root)  # the environment is already what the manifest says
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["removed"] == []


def _setuptools_project(root: Path) -> None:
    """Metadata in setup.cfg only (no [project] table), as many setuptools projects still have it."""
    write(root / "setup.py", "from setuptools import setup\n\nsetup()\n")
    write(
        root / "setup.cfg",
        "[metadata]\nname = app\nversion = 0.1.0\n\n[options]\npy_modules = app\ninstall_requires =\n    beta\n",
    )
    write(root / "app.py", "VALUE = 1\n")
    build = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    write(root / "pyproject.toml", build + "\n[tool.ruff]\nline-length = 100\n")


def test_a_setup_cfg_project_is_installed_with_its_requirements_and_dev_group(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _setuptools_project(root)
    first = run_help("install", cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert {"app", "alpha", "beta"} <= set(venv_versions(root))  # the project and what setup.cfg requires
    dev = run_help("install", "delta", "--dev", cwd=root)  # a group needs no [project]
    assert dev.returncode == 0, dev.stdout + dev.stderr
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert data["dependency-groups"]["dev"] == ["delta>=1.1"] and "project" not in data
    again = run_help("install", "--json", "--force", cwd=root)
    assert again.returncode == 0, again.stderr
    assert not {p["name"] for p in json.loads(again.stdout)["removed"]} & {"alpha", "beta", "app", "delta"}
