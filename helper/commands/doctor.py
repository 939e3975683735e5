"""`help.py doctor`: one screen of health checks, each failing one with its fix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helper.checks import Check, run_all
from helper.errors import HelpError
from helper.ui import console

NEEDS_CONFIG = False  # a broken configuration is a finding here, not a crash

EXAMPLES = """examples:
  help.py doctor                      run every check, with a fix for each problem
  help.py doctor --json               the findings for scripts (exit 1 if any failed)"""

MARKS = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return sub.add_parser(
        "doctor",
        help="check that help.py and the project are healthy",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(args: argparse.Namespace, project: Any) -> int:
    from helper import project as project_module
    from helper.plugins import discover

    checks: list[Check] = []
    try:
        project = project_module.load(Path(args.project or "."), profile=args.profile)
        files = ", ".join(str(f.relative_to(project.root)) for f in project.files) or "defaults only"
        checks.append(Check("config", "ok", f"valid ({files}; profile {project.profile})"))
    except HelpError as exc:
        checks.append(Check("config", "fail", exc.headline(), exc.hint))
        from helper.root import find_root

        root = find_root(str(Path(args.project or ".")))
        if root is not None:  # the project is there; only its configuration does not load
            project = project_module.Project(root=Path(root), found=False, profile="development")
    extra = [p.checks for p in discover() if p.checks]
    checks.extend(run_all(project, extra))

    def render(rows: list[dict[str, Any]]) -> None:
        width = max((len(r["name"]) for r in rows), default=10)
        for row in rows:
            label, colour = MARKS.get(row["status"], (row["status"], "bold"))
            console.echo(f"{console.style(f'{label:>4}', colour)}  {row['name']:<{width}}  {row['detail']}")
            if row["hint"] and row["status"] != "ok":
                console.echo(f"{'':<{width + 6}}  fix: {row['hint']}")
        failed = sum(r["status"] == "fail" for r in rows)
        warned = sum(r["status"] == "warn" for r in rows)
        console.echo(f"\n{len(rows)} checks: {failed} failed, {warned} warnings")

    console.result([c.to_dict() for c in checks], render)
    return 1 if any(c.status == "fail" for c in checks) else 0
