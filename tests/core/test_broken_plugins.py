"""A broken plugin is reported by `plugins` and `doctor`, and never breaks `--help` or another command."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_help, write
from tests.env.conftest import fake_venv

GOOD = """
from helper.plugins import Plugin

PLUGIN = Plugin("{name}", "a plugin", {{"{command}": ("plugins.{name}.command", "does a thing")}})
"""

COMMAND = """
def add_parser(sub):
    return sub.add_parser("{command}")


def run(args, project):
    print("ran {name}")
    return 0
"""


def add_plugin(folder: Path, name: str, init: str | None = None, command: str | None = None) -> Path:
    command = command or name
    path = write(folder / name / "__init__.py", init if init is not None else GOOD.format(name=name, command=command))
    write(folder / name / "command.py", COMMAND.format(name=name, command=command))
    return path


def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "extra-plugins"
    add_plugin(folder, "syntaxy", "from helper.plugins import Plugin\n\nPLUGIN = Plugin(\n    'syntaxy',, 'x', {})\n")
    add_plugin(folder, "importy", "import no_such_module_for_help_py\n")
    add_plugin(folder, "shapeless", "PLUGIN = {'name': 'shapeless'}\n")
    add_plugin(folder, "first", command="twin")
    add_plugin(folder, "second", command="twin")
    add_plugin(folder, "healthy")
    return folder


def test_broken_plugins_are_named_with_file_and_line(make_project, tmp_path: Path) -> None:
    root = make_project()
    folder = broken_folder(tmp_path)
    env = {"HELP_PLUGIN_PATH": str(folder), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    listed = run_help("plugins", "--json", cwd=root, env=env)
    assert listed.returncode == 1, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["healthy"]["error"] is None and rows["sandbox"]["error"] is None
    assert rows["syntaxy"]["error"].startswith("cannot be loaded: SyntaxError")
    assert rows["syntaxy"]["where"] == f"{folder / 'syntaxy' / '__init__.py'}:4"
    assert "No module named 'no_such_module_for_help_py'" in rows["importy"]["error"]
    assert rows["importy"]["where"] == f"{folder / 'importy' / '__init__.py'}:1"
    assert rows["shapeless"]["error"] == "PLUGIN is a dict, not helper.plugins.Plugin"
    assert rows["shapeless"]["where"] == f"{folder / 'shapeless' / '__init__.py'}:1"
    twin = rows["first"]["error"]
    assert "command 'twin' is claimed by plugins 'first'" in twin and "'second'" in twin
    assert str(folder / "first" / "__init__.py") in twin and str(folder / "second" / "__init__.py") in twin
    human = run_help("plugins", cwd=root, env=env)
    assert human.returncode == 1
    assert f"at {folder / 'syntaxy' / '__init__.py'}:4" in human.stdout


def test_everything_else_still_works_beside_broken_plugins(make_project, tmp_path: Path) -> None:
    root = make_project()
    fake_venv(root / ".venv")  # `env --python` answers with the project's environment
    folder = broken_folder(tmp_path)
    env = {"HELP_PLUGIN_PATH": str(folder), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    top = run_help("--help", cwd=root, env=env)
    assert top.returncode == 0, top.stderr
    assert "healthy" in top.stdout and "sandbox" in top.stdout
    assert "plugins with problems: first, importy, shapeless, syntaxy" in top.stdout
    for args in (["config", "show"], ["env", "--python"], ["healthy"], ["sandbox", "--help"], ["history"]):
        result = run_help(*args, cwd=root, env=env)
        assert result.returncode == 0, (args, result.stderr)
    assert run_help("healthy", cwd=root, env=env).stdout == "ran healthy\n"
    twin = run_help("twin", cwd=root, env=env)
    assert twin.returncode == 1
    assert "command 'twin' is claimed by plugins 'first'" in twin.stderr and "'second'" in twin.stderr
    named = run_help("importy", cwd=root, env=env)
    assert named.returncode == 1 and "plugin 'importy' cannot be loaded" in named.stderr
    doctor = run_help("doctor", "--json", cwd=root, env=env)
    assert doctor.returncode == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert checks["plugin syntaxy"]["status"] == "fail"
    assert f"{folder / 'syntaxy' / '__init__.py'}:4" in checks["plugin syntaxy"]["detail"]
    assert checks["plugin healthy"]["status"] == "ok"


def test_a_plugin_may_not_take_a_builtin_command(make_project, tmp_path: Path) -> None:
    root = make_project()
    folder = tmp_path / "extra-plugins"
    add_plugin(folder, "usurper", command="config")
    env = {"HELP_PLUGIN_PATH": str(folder), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    shown = run_help("config", "check", cwd=root, env=env)
    assert shown.returncode == 0 and "configuration valid" in shown.stdout + shown.stderr
    rows = {row["name"]: row for row in json.loads(run_help("plugins", "--json", cwd=root, env=env).stdout)}
    assert "claims the built-in command 'config'" in rows["usurper"]["error"]
