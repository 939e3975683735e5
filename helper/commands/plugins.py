"""`help.py plugins`: every plugin, whether it can run here, and what to install if not.

A plugin that fails to load (a syntax or import error, a bad PLUGIN) or clashes with
another (one command name, one plugin name) is listed with its error and file:line;
the exit code is then 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from helper.plugins import discover, origin, problems, status
from helper.ui import console

EXAMPLES = """examples:
  help.py plugins                     list plugins: available or not, and why
  help.py plugins --json              the same for scripts (exit 1 if a plugin is broken)
  HELP_PLUGIN_PATH=~/my-plugins help.py plugins   also load the plugin packages in that folder"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return sub.add_parser(
        "plugins",
        help="list plugins and what they need",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(args: argparse.Namespace, project: Any) -> int:
    disabled = project.config.get("plugins.disabled") or []
    states = []
    for plugin in discover():
        row = status(plugin, disabled).to_dict()
        row.update(source=origin(plugin.name), error=None, where=None)
        states.append(row)
    broken = problems()
    for problem in broken:
        states.append(
            {
                "name": problem.name,
                "description": "",
                "commands": [],
                "available": False,
                "disabled": False,
                "reason": problem.headline(),
                "install_hint": None,
                "source": problem.where or None,
                **problem.to_dict(),
            }
        )

    def render(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["error"]:
                console.echo(f"{row['name']:<10} {console.style('error', 'red')}  {row['error']}")
                if row["where"]:
                    console.echo(f"{'':<10} at {row['where']}")
                continue
            mark = console.style("available", "green") if row["available"] else console.style("unavailable", "yellow")
            console.echo(f"{row['name']:<10} {mark}  {row['description']}")
            console.echo(f"{'':<10} commands: {', '.join(row['commands'])}; {row['reason']}")
            if row["install_hint"]:
                console.echo(f"{'':<10} to enable: {row['install_hint']}")

    console.result(states, render)
    return 1 if broken else 0
