"""`help.py init`: a project's help.py files from a preset kept in this repository's config/presets/.

Writes config/help.toml, config/env.template, .pre-commit-config.yaml,
.vscode/tasks.json and the CI workflow (`help.py ci github`). Every file is
shown as a diff first; an existing, different file is replaced only with
--force; --dry-run writes nothing.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from helper.errors import HelpError

PRESETS = Path(__file__).resolve().parents[2] / "config" / "presets"
WORKFLOW = ".github/workflows/help.yml"

EXAMPLES = """examples:
  help.py init                        the library preset (diffs shown, existing files kept)
  help.py init --preset fastapi-service --dry-run
  help.py init --preset cli --force   replace files that differ from the preset"""


def presets() -> list[str]:
    return sorted(p.name for p in PRESETS.iterdir() if p.is_dir()) if PRESETS.is_dir() else []


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "init",
        help="write help.py's config, env template, hooks, editor tasks and CI for a project",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", default="library", help="fastapi-service, library (default) or cli")
    parser.add_argument("--force", action="store_true", help="replace files that differ from the preset")
    parser.add_argument("--dry-run", action="store_true", help="show the diffs, write nothing")
    return parser


def files(preset: str) -> dict[str, str]:
    """relative path -> text, for a preset."""
    base = PRESETS / preset
    if not base.is_dir():
        raise HelpError(f"no preset {preset!r}", f"one of: {', '.join(presets()) or 'none found in ' + str(PRESETS)}")
    found = {
        str(path.relative_to(base)): path.read_text(encoding="utf-8")
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }
    from helper.commands.ci import workflow

    found[WORKFLOW] = workflow(2, "3.12", "main", "python help.py")
    return found


def plan(root: Path, preset: str) -> list[dict[str, Any]]:
    steps = []
    for rel, text in files(preset).items():
        target = root / rel
        old = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
        state = "new" if old is None else ("unchanged" if old == text else "differs")
        diff = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"a/{rel}" if old is not None else "/dev/null",
                tofile=f"b/{rel}",
            )
        )
        steps.append({"path": rel, "state": state, "diff": diff, "text": text})
    return steps


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.fsutil import atomic_write
    from helper.ui import console

    steps = plan(project.root, args.preset)
    for step in steps:
        if step["state"] == "unchanged":
            step["action"] = "unchanged"
        elif step["state"] == "differs" and not args.force:
            step["action"] = "kept (differs; --force to replace)"
        elif args.dry_run:
            step["action"] = "would write"
        else:
            target = project.root / step["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, step["text"])
            step["action"] = "written"

    def render(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["diff"]:
                console.echo(row["diff"].rstrip("\n"))
        for row in rows:
            console.echo(f"{row['action']:<36} {row['path']}")

    data = [{k: v for k, v in s.items() if k != "text"} for s in steps]
    console.result(data, render)
    return 0
