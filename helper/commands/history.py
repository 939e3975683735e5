"""`help.py history`: past runs from the journal (.help/journal.sqlite)."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from helper.errors import HelpError
from helper.ui import console

EXAMPLES = """examples:
  help.py history                     the last 20 runs
  help.py history --failed            only runs that failed or were killed
  help.py history --command test -n 5 the last five test runs
  help.py history --json              for scripts"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "history",
        help="list past runs from the journal",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--failed", action="store_true", help="only failed or unfinished runs")
    parser.add_argument("--command", help="only runs of this command")
    parser.add_argument("-n", "--limit", type=int, default=20, help="how many runs (default 20)")
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    path = project.state_dir / "journal.sqlite"
    if not project.found:
        raise HelpError("no project here, so no journal", "run inside a project or pass --project DIR")
    from helper.journal import Journal

    journal = Journal(project.ensure_state_dir() / "journal.sqlite")
    rows = journal.runs(failed=args.failed, command=args.command, limit=args.limit)
    journal.close()

    def render(runs: list[dict[str, Any]]) -> None:
        if not runs:
            console.echo(f"no runs recorded in {path}")
            return
        table = []
        for r in runs:
            when = datetime.datetime.fromtimestamp(r["started"]).strftime("%Y-%m-%d %H:%M:%S")
            code = "running?" if r["exit_code"] is None else str(r["exit_code"])
            duration = "-" if r["duration"] is None else f"{r['duration']:.2f}s"
            hits = (
                f"{r['cache_hits']}/{r['cache_hits'] + r['cache_misses']}"
                if r["cache_hits"] or r["cache_misses"]
                else "-"
            )
            status = console.style(code, "green" if code == "0" else "red")
            table.append((r["id"], when, duration, status, hits, " ".join(r["argv"])[:60], r["error"] or ""))
        console.table(table, ("id", "started", "took", "exit", "cache", "arguments", "error"))

    console.result(rows, render)
    return 0
