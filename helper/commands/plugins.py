"""`help.py plugins`: every plugin, whether it can run here, and what to install if not."""

from __future__ import annotations

import argparse
from typing import Any

from helper.plugins import discover, status
from helper.ui import console

EXAMPLES = """examples:
  help.py plugins                     list plugins: available or not, and why
  help.py plugins --json              the same for scripts"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return sub.add_parser(
        "plugins",
        help="list plugins and what they need",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(args: argparse.Namespace, project: Any) -> int:
    disabled = project.config.get("plugins.disabled") or []
    states = [status(p, disabled).to_dict() for p in discover()]

    def render(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            mark = console.style("available", "green") if row["available"] else console.style("unavailable", "yellow")
            console.echo(f"{row['name']:<10} {mark}  {row['description']}")
            console.echo(f"{'':<10} commands: {', '.join(row['commands'])}; {row['reason']}")
            if row["install_hint"]:
                console.echo(f"{'':<10} to enable: {row['install_hint']}")

    console.result(states, render)
    return 0
