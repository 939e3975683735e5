"""Replayed answers: the same text as the full command, never once an input changed, and still journaled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helper import replay
from tests.conftest import HELP, age, clean_env, run_help, write
from tests.env.conftest import fake_venv


def _imports(*args: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def _ready(make_project) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    project = make_project()
    venv = fake_venv(project / ".venv", "3.12.1")
    age(project)
    return project, venv


def test_replay_prints_the_same_answer_without_loading_the_cli(make_project) -> None:  # type: ignore[no-untyped-def]
    project, venv = _ready(make_project)
    full = run_help("env", "--python", cwd=project)
    assert full.returncode == 0 and full.stdout == f"{venv / 'bin/python'}\n"
    assert (project / ".help/replay" / replay.record_name(["env", "--python"])).is_file()
    again = run_help("env", "--python", cwd=project)
    assert (again.returncode, again.stdout, again.stderr) == (full.returncode, full.stdout, full.stderr)
    extra = _imports(str(HELP), "env", "--python", cwd=project) - _imports("-c", "pass", cwd=project)
    assert "helper.replay" in extra
    assert not extra & {"helper.cli", "helper.project", "json", "argparse", "sqlite3", "re"}, extra


def test_any_changed_input_means_the_full_command_runs(make_project) -> None:  # type: ignore[no-untyped-def]
    project, venv = _ready(make_project)
    assert run_help("env", "--python", cwd=project).returncode == 0  # recorded
    other = fake_venv(project.parent / "other-env", "3.12.1") / "bin" / "python"
    write(project / "config/help.toml", f'python = "{other}"\n')  # a setting changes the answer
    assert run_help("env", "--python", cwd=project).stdout.strip() == str(other)
    assert run_help(
        "env", "--python", cwd=project, env={"HELP_PYTHON": str(venv / "bin/python")}
    ).stdout.strip() == str(venv / "bin/python")


def test_a_fresh_input_is_not_trusted_and_a_corrupt_record_is_ignored(make_project) -> None:  # type: ignore[no-untyped-def]
    project = make_project()
    fake_venv(project / ".venv", "3.12.1")  # written just now: its mtime may still move within one tick
    assert run_help("env", "--python", cwd=project).returncode == 0
    record = project / ".help/replay" / replay.record_name(["env", "--python"])
    assert not record.exists()
    age(project)
    assert run_help("env", "--python", cwd=project).returncode == 0
    assert record.is_file()
    for broken in ("", "help.py replay 1\n", record.read_text().replace("\n\n", "\nx\ty\n\n"), "\0\0\0"):
        record.write_text(broken)
        shown = run_help("env", "--python", cwd=project)
        assert shown.returncode == 0 and shown.stdout.strip().endswith(".venv/bin/python"), shown.stderr


def test_output_mode_and_arguments_have_their_own_records(make_project) -> None:  # type: ignore[no-untyped-def]
    project, venv = _ready(make_project)
    for _ in range(2):
        plain = run_help("env", "--python", cwd=project)
        as_json = run_help("env", "--python", "--json", cwd=project)
        assert plain.stdout == f"{venv / 'bin/python'}\n"
        assert json.loads(as_json.stdout)["python"] == str(venv / "bin/python")
    names = sorted(p.name for p in (project / ".help/replay").iterdir())
    assert len(names) == 2, names


def test_replayed_runs_reach_the_journal(make_project) -> None:  # type: ignore[no-untyped-def]
    project, _ = _ready(make_project)
    for _ in range(4):
        assert run_help("env", "--python", cwd=project).returncode == 0
    pending = list((project / ".help/journal.pending").glob("*.run"))
    assert len(pending) >= 2  # the runs after the one that recorded
    shown = run_help("history", "--json", "-n", "50", cwd=project)
    runs = [r for r in json.loads(shown.stdout) if r["command"] == "env"]
    assert len(runs) == 4, runs
    assert sum(1 for r in runs if (r.get("details") or {}).get("replayed")) == len(pending)
    assert all(r["exit_code"] == 0 and r["argv"] == ["env", "--python"] for r in runs)
    assert not list((project / ".help/journal.pending").iterdir())  # moved, not copied


def test_commands_that_write_or_read_elsewhere_are_never_replayed(make_project) -> None:  # type: ignore[no-untyped-def]
    project, _ = _ready(make_project)
    for _ in range(2):
        assert run_help("env", "--python", "--debug", cwd=project).returncode == 0
        assert run_help("config", "show", cwd=project).returncode == 0
        assert run_help("env", "--python", "--refresh", cwd=project).returncode == 0  # asks for a fresh look
    assert not (project / ".help/replay").exists() or not list((project / ".help/replay").iterdir())
