"""Plugins' own settings: validated with file:line, set from HELP_*, shown by `config show`, cached safely."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, age, clean_env, run_help, write

WIDGET = """
from helper.config_schema import Setting
from helper.plugins import Plugin

PLUGIN = Plugin(
    name="widget",
    description="a plugin with settings",
    commands={"widget": ("plugins.widget.command", "show the widget's settings")},
    settings={
        "engine": Setting("choice", "auto", "which engine", choices=("auto", "podman", "docker")),
        "retries": Setting("int", 3, "how often to retry"),
    },
    api="plugins.widget.api",
)
"""

COMMAND = """
def add_parser(sub):
    return sub.add_parser("widget")


def run(args, project):
    print(project.get("widget.engine"), project.get("widget.retries"))
    return 0
"""


def plugin_dir(tmp_path: Path, init: str = WIDGET) -> Path:
    folder = tmp_path / "extra-plugins"
    write(folder / "widget" / "__init__.py", init)
    write(folder / "widget" / "command.py", COMMAND)
    write(folder / "widget" / "api.py", "def answer() -> int:\n    return 42\n")
    return folder


def env_for(folder: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HELP_PLUGIN_PATH": str(folder), "XDG_CACHE_HOME": str(tmp_path / "xdg"), **extra}


def test_a_wrong_type_in_a_plugin_section_names_the_file_and_line(make_project, tmp_path: Path) -> None:
    root = make_project(pyproject='[project]\nname = "p"\nversion = "0"\n\n[tool.help.widget]\nengine = 5\n')
    result = run_help("config", "check", cwd=root, env=env_for(plugin_dir(tmp_path), tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"{root / 'pyproject.toml'}:6" in result.stderr
    assert "widget.engine: expected a string" in result.stderr
    bad_choice = make_project(pyproject='[tool.help.widget]\nretries = 1\nengine = "lxc"\n')
    result = run_help("config", "check", cwd=bad_choice, env=env_for(plugin_dir(tmp_path), tmp_path))
    assert result.returncode == 2
    assert "pyproject.toml:3" in result.stderr and "expected one of auto, podman, docker" in result.stderr


def test_plugin_settings_come_from_files_and_variables(make_project, tmp_path: Path) -> None:
    root = make_project(pyproject='[tool.help.widget]\nengine = "podman"\n')
    folder = plugin_dir(tmp_path)
    shown = run_help("config", "show", "--json", cwd=root, env=env_for(folder, tmp_path, HELP_WIDGET__RETRIES="7"))
    assert shown.returncode == 0, shown.stderr
    settings = json.loads(shown.stdout)["settings"]
    assert settings["widget.engine"]["value"] == "podman"
    assert settings["widget.engine"]["source"] == f"{root / 'pyproject.toml'}:2"
    assert settings["widget.retries"] == {
        "value": 7,
        "source": "environment HELP_WIDGET__RETRIES",
        "help": "how often to retry",
    }
    human = run_help("config", "show", cwd=root, env=env_for(folder, tmp_path))
    assert "widget.engine" in human.stdout and "podman" in human.stdout
    ran = run_help("widget", cwd=root, env=env_for(folder, tmp_path, HELP_WIDGET__ENGINE="docker"))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["docker", "3"]
    wrong = run_help("widget", cwd=root, env=env_for(folder, tmp_path, HELP_WIDGET__RETRIES="many"))
    assert wrong.returncode == 2 and "HELP_WIDGET__RETRIES" in wrong.stderr


def test_the_config_cache_follows_the_plugins_and_their_schema(make_project, tmp_path: Path) -> None:
    root = make_project(pyproject='[tool.help.widget]\nengine = "podman"\n')
    folder = plugin_dir(tmp_path)
    age(root)
    age(folder)
    env = env_for(folder, tmp_path)
    first = run_help("config", "show", "--json", cwd=root, env=env)
    assert first.returncode == 0, first.stderr
    assert (root / ".help" / "config.cache").is_file(), "the merged configuration was cached"
    # The plugin gains a setting: the cached configuration (without it) must not be used.
    init = folder / "widget" / "__init__.py"
    init.write_text(init.read_text().replace('"retries"', '"colour": Setting("str", "blue", "c"),\n        "retries"'))
    age(folder)
    again = json.loads(run_help("config", "show", "--json", cwd=root, env=env).stdout)["settings"]
    assert again["widget.colour"]["value"] == "blue"
    assert again["widget.engine"]["value"] == "podman"
    # The plugin goes away: its section is now an unknown setting, not a stale cached value.
    gone = run_help("config", "show", "--json", cwd=root, env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert gone.returncode == 2
    assert "unknown setting 'tool.help.widget'" in gone.stdout + gone.stderr


def test_a_plugin_api_is_reached_by_name(tmp_path: Path) -> None:
    folder = plugin_dir(tmp_path)
    code = (
        "from helper import plugins\n"
        "print(plugins.api('widget').answer())\n"
        "print(sorted(k for k in plugins.settings_schema() if k.startswith('widget.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean_env({"HELP_PLUGIN_PATH": str(folder), "XDG_CACHE_HOME": str(tmp_path / "xdg")}),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["42", "['widget.engine', 'widget.retries']"]
