"""The CLI as a user calls it: help, version, usage errors, JSON, global flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HELP, ROOT, run_help

COMMANDS = ["test", "config", "cache", "history", "plugins", "doctor", "sandbox"]


def test_help_runs_on_a_bare_interpreter(tmp_path: Path) -> None:
    # -I: isolated mode, no site-packages, no user paths: the core is stdlib only.
    result = subprocess.run([sys.executable, "-I", str(HELP), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert name in result.stdout
    assert "examples:" in result.stdout


def test_stdlib_core_check_passes() -> None:
    checker = ROOT.parent / "shared" / "tools" / "stdlib_core_check.py"
    if not checker.exists():
        pytest.skip("shared/tools is not beside this checkout")
    result = subprocess.run([sys.executable, str(checker)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_version(tmp_path: Path) -> None:
    from helper import __version__

    result = run_help("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"help.py {__version__}"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_examples(tmp_path: Path, name: str) -> None:
    result = run_help(name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "examples:" in result.stdout
    assert "help.py " + name in result.stdout


def test_unknown_command_suggests_the_close_one(tmp_path: Path) -> None:
    result = run_help("tset", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown command 'tset'" in result.stderr
    assert "did you mean `help.py test`" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_is_a_usage_error_with_a_hint(tmp_path: Path) -> None:
    result = run_help("cache", "frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "hint:" in result.stderr


def test_json_error_object_on_stdout(tmp_path: Path) -> None:
    result = run_help("--json", "nosuch", cwd=tmp_path)
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["error"] == "unknown command 'nosuch'"
    assert data["exit_code"] == 2


def test_global_flags_before_and_after_the_command(make_project) -> None:
    root = make_project()
    before = run_help("--json", "config", "show", cwd=root)
    after = run_help("config", "show", "--json", cwd=root)
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)


def test_project_flag_points_elsewhere(make_project, tmp_path: Path) -> None:
    root = make_project(pyproject='[project]\nname = "elsewhere"\n[tool.help]\nmanager = "pdm"\n')
    result = run_help("--project", str(root), "config", "show", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["root"] == str(root)
    assert data["settings"]["manager"]["value"] == "pdm"


def test_no_color_and_non_tty_output_has_no_escape_codes(make_project) -> None:
    root = make_project()
    result = run_help("doctor", cwd=root)
    assert "\x1b[" not in result.stdout + result.stderr


def test_python_dash_m_helper_works(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "helper", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("help.py ")


def test_installed_console_script_helpy(tmp_path: Path) -> None:
    """`pip install .` gives a working `helpy` with the plugins package included."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    result = subprocess.run(
        [str(venv / "bin" / "helpy"), "plugins", "--json"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "sandbox" in result.stdout
