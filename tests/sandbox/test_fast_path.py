"""`sandbox run`'s fast start path against the full CLI, on real bubblewrap: the same exit codes, output, JSON
(but for the measured duration and memory) and journal records, the fallbacks' messages, and none of the heavy
imports (argparse, pathlib, re, enum, typing, subprocess, the configuration schema, tomllib) on the fast path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helper import runlog
from tests.conftest import HELP, age, clean_env, write
from tests.sandbox.conftest import PACKAGES, need_tool

HEAVY = ("argparse", "pathlib", "re", "enum", "typing", "subprocess", "helper.config_schema", "tomllib")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    need_tool("bwrap", PACKAGES["bwrap"])
    root = tmp_path / "proj"
    write(root / "pyproject.toml", '[project]\nname = "p"\nversion = "0"\n')
    (root / "out").mkdir()
    age(root)
    return root


def run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None, slow: bool = False
) -> subprocess.CompletedProcess[str]:
    extra = {"XDG_CACHE_HOME": str(cwd.parent / "cache"), **(env or {}), **({"HELP_NO_FAST": "1"} if slow else {})}
    return subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(HELP), *argv],  # -S: no .pth file imports anything first
        cwd=cwd,
        env=clean_env(extra),
        capture_output=True,
        text=True,
        timeout=180,
    )


def imported(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def output(result: subprocess.CompletedProcess[str]) -> tuple[int, object, str]:
    err = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return result.returncode, result.stdout, err
    if isinstance(data, dict):  # what is measured differs run to run; the rest is byte for byte the same
        data.pop("duration", None)
        data.pop("peak_memory", None)
    return result.returncode, data, err


def both(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], ...]:
    run(argv, cwd, env, slow=True)  # the fast index and the configuration cache, as after any first run
    return run(argv, cwd, env), run(argv, cwd, env, slow=True)


RUNS = [
    ["sandbox", "run", "--backend", "bwrap", "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
    ["--json", "sandbox", "run", "--backend", "bwrap", "--", "sh", "-c", "echo out; echo err >&2"],
    ["sandbox", "run", "--json", "--backend=bwrap", "--mem", "512", "--procs=32", "--", "id", "-u"],
    ["sandbox", "run", "--backend", "bwrap", "--rw", "out", "--", "sh", "-c", "echo x > out/f && cat out/f"],
    ["-q", "sandbox", "run", "--backend", "bwrap", "--timeout", "0.5", "--", "sleep", "5"],
    ["--json", "sandbox", "run", "--backend", "bwrap", "--net", "--", "true"],
    ["sandbox", "run", "--backend", "bwrap", "--rw", "missing", "--", "true"],  # the runner's own UsageError
    ["sandbox", "run", "--double", "--backend", "bwrap", "--", "true"],  # --double's UsageError
    ["--json", "sandbox", "run", "--backend", "bwrap", "--", "nosuchprogram"],
]
FALLBACKS = [
    ["sandbox", "run", "--backend", "nosuch", "--", "true"],  # argparse's choice error
    ["sandbox", "run", "--back", "bwrap", "--", "true"],  # an abbreviation
    ["sandbox", "run", "--mem", "lots", "--", "true"],  # a bad value
    ["sandbox", "run", "--bogus", "--", "true"],  # unknown: argparse passes it through
    ["sandbox", "run", "true"],  # no --
    ["sandbox", "run", "--"],  # nothing to run
    ["sandbox", "--help"],
    ["sandbox", "check", "--backend", "bwrap", "--json"],
]


@pytest.mark.parametrize("argv", RUNS, ids=[" ".join(a[:6]) for a in RUNS])
def test_the_fast_path_answers_as_the_full_cli(project: Path, argv: list[str]) -> None:
    quick, full = both(argv, project)
    assert output(quick) == output(full)
    loaded = imported(quick)
    assert "argparse" not in loaded
    assert "argparse" in imported(full)
    if "--timeout" in argv:
        return  # a limit hit is recorded in the SQLite journal, which takes its own imports
    allowed = {"re", "enum"} if "json" in loaded else set()  # the json module imports re
    assert not set(HEAVY) & loaded - allowed


@pytest.mark.parametrize("argv", FALLBACKS, ids=[" ".join(a[:6]) for a in FALLBACKS])
def test_what_it_does_not_take_runs_the_full_cli(project: Path, argv: list[str]) -> None:
    quick, full = both(argv, project)
    assert output(quick) == output(full)
    assert "argparse" in imported(quick)


def test_outside_a_project_and_with_python_in_one(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    argv = ["--json", "sandbox", "run", "--backend", "bwrap", "--", "pwd"]
    quick, full = both(argv, outside)
    assert output(quick) == output(full)
    assert json.loads(quick.stdout)["stdout"].strip() == str(outside.resolve())
    assert "argparse" not in imported(quick)
    # a bare python in a project means the project's environment: the full command resolves it
    quick, full = both(["sandbox", "run", "--backend", "bwrap", "--", "python3", "-c", "print(1)"], project)
    assert output(quick) == output(full)
    assert "argparse" in imported(quick)


def test_configuration_is_honoured(project: Path) -> None:
    argv = ["sandbox", "run", "--backend", "bwrap", "--", "true"]
    write(project / "config" / "help.toml", "[plugins]\ndisabled = ['sandbox']\n")
    age(project)
    quick, full = both(argv, project)
    assert quick.returncode == full.returncode == 2 or quick.returncode == full.returncode != 0
    assert output(quick) == output(full)
    assert "disabled" in output(quick)[2]
    # the journal off: neither path leaves a record
    write(project / "config" / "help.toml", "[journal]\nenabled = false\n")
    age(project)
    pending = project / ".help" / runlog.PENDING_DIR
    for slow in (False, True):
        for name in os.listdir(pending) if pending.is_dir() else []:
            (pending / name).unlink()
        run(argv, project, slow=True)  # the configuration cache
        for name in os.listdir(pending) if pending.is_dir() else []:
            (pending / name).unlink()
        assert run(argv, project, slow=slow).returncode == 0
        assert not [n for n in os.listdir(pending) if not n.startswith(".")] if pending.is_dir() else True


def test_both_paths_leave_the_same_journal_record(project: Path) -> None:
    argv = ["sandbox", "run", "--backend", "bwrap", "--", "sh", "-c", "exit 5"]
    pending = project / ".help" / runlog.PENDING_DIR
    seen = []
    for slow in (False, True):
        run(argv, project, slow=True)
        for name in os.listdir(pending):
            (pending / name).unlink()
        result = run(argv, project, slow=slow)
        assert result.returncode == 5
        assert slow or "argparse" not in imported(result)
        records = [runlog.read(str(pending / n)) for n in os.listdir(pending) if n.endswith(runlog.END)]
        assert len(records) == 1 and records[0] is not None
        seen.append({k: records[0][k] for k in ("command", "argv", "exit_code", "error", "cwd", "version")})
    assert seen[0] == seen[1]
    assert seen[0]["command"] == "sandbox" and seen[0]["exit_code"] == 5 and seen[0]["argv"] == argv
