"""Plugins installed as packages (the `helpy.plugins` entry-point group), and help.py installed by pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, age, clean_env, run_help, write

DEMO = """
from helper.plugins import Plugin

PLUGIN = Plugin(
    "demo",
    "an installed plugin",
    {"demo": ("helpy_demo.command", "say hello")},
    settings={},
)
"""

DEMO_COMMAND = """
def add_parser(sub):
    return sub.add_parser("demo")


def run(args, project):
    print("hello from an installed plugin")
    return 0
"""


def fake_distribution(site: Path, entry: str = "demo = helpy_demo:PLUGIN") -> None:
    """A distribution as pip leaves it: the package and its .dist-info with entry_points.txt."""
    write(site / "helpy_demo" / "__init__.py", DEMO)
    write(site / "helpy_demo" / "command.py", DEMO_COMMAND)
    info = site / "helpy_demo-1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: helpy-demo\nVersion: 1.0\n")
    write(info / "entry_points.txt", f"[helpy.plugins]\n{entry}\n")


def test_entry_point_plugins_are_found_and_the_list_is_cached(make_project, tmp_path: Path) -> None:
    root = make_project()
    site = tmp_path / "site"
    fake_distribution(site)
    age(site)
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    listed = run_help("plugins", "--json", cwd=root, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["demo"]["commands"] == ["demo"] and rows["demo"]["source"] == "entry point demo = helpy_demo:PLUGIN"
    assert "sandbox" in rows
    cached = list((tmp_path / "xdg" / "help").glob("entry-points-*.marshal"))
    assert len(cached) == 1, "the entry points were kept for the next start"
    ran = run_help("demo", cwd=root, env=env)
    assert (ran.returncode, ran.stdout) == (0, "hello from an installed plugin\n"), ran.stderr
    # Uninstalling changes the folder: the cached list is not trusted any more.
    shutil.rmtree(site / "helpy_demo-1.0.dist-info")
    gone = run_help("demo", cwd=root, env=env)
    assert gone.returncode == 2 and "unknown command 'demo'" in gone.stderr


def test_a_broken_entry_point_is_reported(make_project, tmp_path: Path) -> None:
    root = make_project()
    site = tmp_path / "site"
    fake_distribution(site, "demo = helpy_demo:NO_SUCH_NAME")
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    listed = run_help("plugins", "--json", cwd=root, env=env)
    assert listed.returncode == 1
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert "AttributeError" in rows["demo"]["error"]
    assert run_help("--help", cwd=root, env=env).returncode == 0


def copy_sources(target: Path) -> Path:
    """The files a clean clone has (not build/ or .venv/ leftovers of this checkout)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "helper", "plugins"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in [*files, "pyproject.toml", "setup.py", "README.md", "help.py"]:
        if (ROOT / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target / rel)
    return target


@pytest.mark.slow
def test_pip_install_ships_no_top_level_plugins_package(tmp_path: Path) -> None:
    source = copy_sources(tmp_path / "src")
    demo = tmp_path / "demo"
    write(demo / "helpy_demo" / "__init__.py", DEMO)
    write(demo / "helpy_demo" / "command.py", DEMO_COMMAND)
    write(
        demo / "pyproject.toml",
        """
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "helpy-demo"
        version = "1.0"

        [project.entry-points."helpy.plugins"]
        demo = "helpy_demo:PLUGIN"
        """,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source), str(demo)],
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert installed.returncode == 0, installed.stderr
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    names = set(os.listdir(site))
    assert "plugins" not in names, sorted(names)
    assert {"helper", "helper_plugins", "helpy_demo"} <= names
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env({"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    listed = subprocess.run(
        [str(venv / "bin" / "helpy"), "plugins", "--json"], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["sandbox"]["source"] == str(site / "helper_plugins" / "sandbox" / "__init__.py")
    assert rows["demo"]["source"] == "entry point demo = helpy_demo:PLUGIN"
    checked = subprocess.run(
        [str(venv / "bin" / "helpy"), "sandbox", "--help"], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert checked.returncode == 0, checked.stderr
    ran = subprocess.run([str(venv / "bin" / "helpy"), "demo"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert ran.stdout == "hello from an installed plugin\n", ran.stderr
