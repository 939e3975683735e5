"""`help.py monitor`: the project's health, checked periodically; alerts when a check changes state.

Each round runs the same commands a person would (`doctor`, `env check`, and,
unless --offline, `env check` with the package manager, which sees drift
between the lock and what is installed), plus an MCP round trip and the
compose plugin's `ps` where it exists. Each result goes to the journal; a check
that changes state (ok <-> failed) prints an alert on stderr and runs the
--on-alert command with HELP_ALERT_CHECK, HELP_ALERT_FROM and HELP_ALERT_TO set.
The last states live in .help/monitor-state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  help.py monitor --once              one round of checks (exit 1 if any failed)
  help.py monitor --interval 300      every five minutes until Ctrl-C
  help.py monitor --on-alert 'notify-send "help.py: $HELP_ALERT_CHECK is $HELP_ALERT_TO"'"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "monitor",
        help="check the project's health periodically; alert on changes",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--interval", type=float, default=60.0, metavar="S", help="seconds between rounds")
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--offline", action="store_true", help="skip checks that run the package manager")
    parser.add_argument("--on-alert", metavar="CMD", help="shell command run on each alert")
    return parser


# The file names the Compose specification looks for: a project with none has no services to watch.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def checks(offline: bool, root: Path) -> dict[str, list[str]]:
    """check name -> help.py command line (run with --json)."""
    found = {"doctor": ["doctor"], "env": ["env", "check", "--offline"]}
    if not offline:
        found["drift"] = ["env", "check"]
    try:
        from helper.plugins import command_index

        if "compose" in command_index() and any((root / name).is_file() for name in COMPOSE_FILES):
            found["compose"] = ["compose", "ps"]
    except Exception:
        pass
    return found


def mcp_round_trip(root: Path) -> tuple[str, str]:
    """Whether `help.py mcp` starts and answers server/discover."""
    import subprocess
    import sys

    from helper.mcp.tools import HELP_PY

    hello = {"jsonrpc": "2.0", "id": 1, "method": "server/discover"}
    hello["params"] = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}
    try:
        done = subprocess.run(
            [sys.executable, str(HELP_PY), "mcp"],
            cwd=root,
            input=json.dumps(hello) + "\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
        answer = json.loads(done.stdout.splitlines()[0])
        return ("ok", "answers server/discover") if "result" in answer else ("failed", str(answer.get("error")))
    except Exception as exc:
        return "failed", f"{exc.__class__.__name__}: {exc}"


def one_round(project: Any, offline: bool) -> list[dict[str, Any]]:
    from helper.mcp.tools import Call

    results = []
    for name, words in checks(offline, project.root).items():
        started = time.monotonic()
        outcome = Call().execute(project.root, words, timeout=300)
        status = "ok" if outcome.exit_code == 0 else "failed"
        detail = "" if outcome.data is not None else (outcome.stderr.strip().splitlines() or [""])[-1]
        results.append(
            {
                "check": name,
                "status": status,
                "exit_code": outcome.exit_code,
                "seconds": round(time.monotonic() - started, 3),
                "detail": detail,
                "result": outcome.data,
            }
        )
    started = time.monotonic()
    status, detail = mcp_round_trip(project.root)
    results.append(
        {"check": "mcp", "status": status, "exit_code": 0 if status == "ok" else 1, "detail": detail}
        | {"seconds": round(time.monotonic() - started, 3), "result": None}
    )
    return results


def record(project: Any, results: list[dict[str, Any]]) -> None:
    """One journal row per check (`monitor.<check>`), with what it found."""
    from helper import __version__
    from helper.journal import Journal

    try:
        journal = Journal(project.ensure_state_dir() / "journal.sqlite")
    except Exception:
        return
    try:
        for r in results:
            run_id = journal.start(f"monitor.{r['check']}", ["monitor"], __version__)
            details = {"status": r["status"], "detail": r["detail"]}
            journal.finish(run_id, r["exit_code"], duration=r["seconds"], details=details)
    finally:
        journal.close()


def alerts(project: Any, results: list[dict[str, Any]], on_alert: str | None) -> list[dict[str, str]]:
    """Compare with the last states; print and run the alert command for each change."""
    import subprocess
    import sys

    from helper.fsutil import atomic_write

    path = project.ensure_state_dir() / "monitor-state.json"
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        before = {}
    changed = []
    for r in results:
        old = before.get(r["check"])
        if old is not None and old != r["status"]:
            changed.append({"check": r["check"], "from": old, "to": r["status"]})
    atomic_write(path, json.dumps({r["check"]: r["status"] for r in results}, indent=2) + "\n")
    for change in changed:
        print(f"alert: {change['check']} {change['from']} -> {change['to']}", file=sys.stderr, flush=True)
        if on_alert:
            env = dict(
                os.environ,
                HELP_ALERT_CHECK=change["check"],
                HELP_ALERT_FROM=change["from"],
                HELP_ALERT_TO=change["to"],
            )
            subprocess.run(on_alert, shell=True, cwd=project.root, env=env, timeout=60, check=False)
    return changed


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.ui import console

    while True:
        results = one_round(project, args.offline)
        record(project, results)
        changed = alerts(project, results, args.on_alert)

        def render(d: dict[str, Any]) -> None:
            for r in d["checks"]:
                mark = console.style(f"{r['status']:>6}", "green" if r["status"] == "ok" else "red")
                console.echo(f"{mark}  {r['check']:<8} {r['seconds']:.2f}s {r['detail']}")

        console.result({"checks": results, "alerts": changed}, render)
        failed = any(r["status"] != "ok" for r in results)
        if args.once:
            return 1 if failed else 0
        time.sleep(max(1.0, args.interval))
