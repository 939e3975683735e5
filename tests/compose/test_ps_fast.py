"""`compose ps`'s fast start path against the full CLI on real podman: the same rows (JSON and table), the same
journal record, fallbacks for what it does not take, and no argparse, pathlib, subprocess or model code loaded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from helper import runlog
from tests.compose.test_podman import LOOP, Proj, compose, image, proj  # noqa: F401 - fixtures
from tests.conftest import HELP, age, clean_env

HEAVY = ("argparse", "pathlib", "subprocess", "typing", "tomllib", "plugins.compose.model", "plugins.compose.engine")


def run(project: Proj, argv: list[str], slow: bool = False) -> subprocess.CompletedProcess[str]:
    env = {
        **project.env,
        "XDG_CACHE_HOME": str(project.root / ".cache-home"),
        **({"HELP_NO_FAST": "1"} if slow else {}),
    }
    return subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(HELP), *argv],  # -S: no .pth file imports anything first
        cwd=project.root,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def output(result: subprocess.CompletedProcess[str]) -> tuple[int, object, str]:
    err = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
    try:
        rows = json.loads(result.stdout)
    except ValueError:  # the table: its uptime column moves on between two runs
        return result.returncode, re.sub(r"\d+s$", "Ns", result.stdout, flags=re.MULTILINE), err
    for row in rows if isinstance(rows, list) else []:
        row["uptime"] = row["uptime"] is not None
    return result.returncode, rows, err


SERVICES = (
    "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n    depends_on: [worker]\n    ports: ['127.0.0.1:PORT:80']\n"
    + LOOP
    + "  debug:\n    image: IMAGE\n    command: [sleep, '1000']\n    profiles: [debug]\n"
)


def test_fast_ps_gives_the_full_cli_rows(proj: Proj) -> None:  # noqa: F811
    from tests.compose.test_podman import free_port

    compose(proj, SERVICES.replace("PORT", str(free_port())))
    age(proj.root)
    assert run(proj, ["compose", "up", "--wait"], slow=True).returncode == 0
    for argv in (["--json", "compose", "ps"], ["compose", "ps"], ["compose", "ps", "--json"], ["-q", "compose", "ps"]):
        run(proj, argv, slow=True)  # the fast index, the configuration and the model caches, as after any run
        quick, full = run(proj, argv), run(proj, argv, slow=True)
        assert output(quick) == output(full), argv
        loaded = imported(quick)
        assert not set(HEAVY) & loaded, argv
        assert {"argparse", "plugins.compose.model"} <= imported(full)
    rows = json.loads(run(proj, ["--json", "compose", "ps"]).stdout)
    assert [(r["service"], r["state"]) for r in rows] == [("worker", "running"), ("app", "running")]
    # a named service, an unknown one, --help: the full CLI answers
    for argv in (["compose", "ps", "app"], ["compose", "ps", "nosuch"], ["compose", "ps", "--help"]):
        quick, full = run(proj, argv), run(proj, argv, slow=True)
        assert output(quick) == output(full), argv
        assert "argparse" in imported(quick), argv


def test_a_changed_compose_file_is_read_again(proj: Proj) -> None:  # noqa: F811
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    age(proj.root)
    run(proj, ["compose", "ps"], slow=True)
    assert [r["service"] for r in json.loads(run(proj, ["--json", "compose", "ps"]).stdout)] == ["app"]
    compose(proj, "  web:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    age(proj.root)
    again = run(proj, ["--json", "compose", "ps"])
    assert [r["service"] for r in json.loads(again.stdout)] == ["web"]
    assert "plugins.compose.model" in imported(again)  # the kept model no longer held


def test_both_paths_leave_the_same_journal_record(proj: Proj) -> None:  # noqa: F811
    compose(proj, "  app:\n    image: IMAGE\n    command: [sleep, '1000']\n")
    age(proj.root)
    pending = proj.root / ".help" / runlog.PENDING_DIR
    seen = []
    for slow in (False, True):
        run(proj, ["--json", "compose", "ps"], slow=True)
        for name in os.listdir(pending):
            (pending / name).unlink()
        result = run(proj, ["--json", "compose", "ps"], slow=slow)
        assert result.returncode == 0
        assert slow or "argparse" not in imported(result)
        records = [runlog.read(str(pending / n)) for n in os.listdir(pending) if n.endswith(runlog.END)]
        assert len(records) == 1 and records[0] is not None
        seen.append({k: records[0][k] for k in ("command", "argv", "exit_code", "error", "cwd")})
    assert seen[0] == seen[1] == {
        "command": "compose", "argv": ["--json", "compose", "ps"], "exit_code": 0, "error": None,
        "cwd": str(Path(proj.root).resolve()),
    }  # fmt: skip
