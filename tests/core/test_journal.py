"""The journal of runs and `help.py history`."""

from __future__ import annotations

import json

from helper.journal import mask_argv
from tests.conftest import run_help


def test_every_run_is_recorded_with_exit_code_and_masked_secrets(make_project) -> None:
    root = make_project()
    assert run_help("config", "show", cwd=root).returncode == 0
    assert run_help("cache", "gc", "--max-size", "nonsense", cwd=root).returncode == 2
    result = run_help("history", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [r["command"] for r in runs[:2]] == ["cache", "config"]
    assert runs[0]["exit_code"] == 2 and "is not a size" in runs[0]["error"]
    assert runs[1]["exit_code"] == 0 and runs[1]["duration"] > 0

    failed = json.loads(run_help("history", "--failed", "--json", cwd=root).stdout)
    assert [r["command"] for r in failed] == ["cache"]
    only = json.loads(run_help("history", "--command", "config", "--json", cwd=root).stdout)
    assert {r["command"] for r in only} == {"config"}
    human = run_help("history", cwd=root)
    assert "config show" in human.stdout and "exit" in human.stdout


def test_usage_errors_before_a_command_are_not_journaled(make_project) -> None:
    root = make_project()
    run_help("nosuch", cwd=root)
    assert not (root / ".help" / "journal.sqlite").exists()


def test_state_dir_is_git_ignored_by_itself(make_project) -> None:
    root = make_project()
    run_help("config", "show", cwd=root)
    assert (root / ".help" / ".gitignore").read_text().strip().endswith("*")


def test_mask_argv_hides_secret_values() -> None:
    argv = ["build", "--token", "abc", "--password=hunter2", "API_KEY=xyz", "http://u:pw@host/x", "--keep", "3"]
    assert mask_argv(argv) == [
        "build",
        "--token",
        "****",
        "--password=****",
        "API_KEY=****",
        "http://u:****@host/x",
        "--keep",
        "3",
    ]


def test_journal_can_be_switched_off(make_project) -> None:
    root = make_project(pyproject="[tool.help.journal]\nenabled = false\n")
    run_help("config", "show", cwd=root)
    assert not (root / ".help" / "journal.sqlite").exists()
