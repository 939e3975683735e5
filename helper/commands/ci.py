"""`help.py ci github`: a GitHub Actions workflow for the project's help.py loop.

Tests sharded over a matrix (`test --shard K/N`, balanced by recorded durations)
with the shared remote cache (HELP_CACHE__REMOTE from a secret) and a JUnit
report uploaded per shard; a nightly job runs `env check` and `doctor`.
Checked with actionlint when it is installed. Never overwrites without --force.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helper.errors import HelpError, UsageError

EXAMPLES = """examples:
  help.py ci github                   print the workflow
  help.py ci github --write           write .github/workflows/help.yml (actionlint-checked if installed)
  help.py ci github --shards 4 --python 3.12 --write --force"""

TEMPLATE = """\
# Made by `help.py ci github`: tests sharded over a matrix with the shared remote
# cache, JUnit reports per shard, and a nightly environment check.
name: help.py

on:
  push:
    branches: [{branch}]
  pull_request:
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:

permissions:
  contents: read

jobs:
  test:
    if: github.event_name != 'schedule'
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        shard: [{shard_list}]
    env:
      HELP_CACHE__REMOTE: ${{{{ secrets.HELP_CACHE_REMOTE }}}}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: install
        run: {run} install
      - name: test (shard ${{{{ matrix.shard }}}} of {shards})
        run: {run} test --shard ${{{{ matrix.shard }}}}/{shards} --junit junit-${{{{ matrix.shard }}}}.xml
      - name: upload the JUnit report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: junit-${{{{ matrix.shard }}}}
          path: junit-${{{{ matrix.shard }}}}.xml
          if-no-files-found: warn

  health:
    if: github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: install
        run: {run} install
      - name: environment check
        run: {run} env check
      - name: doctor
        run: {run} doctor
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from helper.parsing import add_global_options

    parser: argparse.ArgumentParser = sub.add_parser(
        "ci",
        help="write a CI workflow for the project (GitHub Actions)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    providers = parser.add_subparsers(dest="provider", metavar="PROVIDER", parser_class=type(parser))
    github = providers.add_parser("github", help="GitHub Actions: .github/workflows/help.yml")
    github.add_argument("--shards", type=int, default=2, help="test shards in the matrix (default 2)")
    github.add_argument("--python", default="3.12", metavar="X.Y", help="Python version (default 3.12)")
    github.add_argument("--branch", default="main", help="branch whose pushes run it (default main)")
    github.add_argument("--run", default="python help.py", help="how help.py is run (default `python help.py`)")
    github.add_argument("--output", metavar="FILE", help="where to write (default .github/workflows/help.yml)")
    github.add_argument("--write", action="store_true", help="write the file (default: print it)")
    github.add_argument("--force", action="store_true", help="replace an existing, different file")
    add_global_options(github, suppress=True)
    return parser


def workflow(shards: int, python: str, branch: str, run: str) -> str:
    if not 1 <= shards <= 64:
        raise UsageError(f"--shards {shards} is out of range", "use 1 to 64")
    return TEMPLATE.format(
        shards=shards,
        shard_list=", ".join(str(k) for k in range(1, shards + 1)),
        python=python,
        branch=branch,
        run=run,
    )


def actionlint(path: Path) -> str | None:
    """actionlint's complaints about `path` (None when clean or not installed)."""
    from helper.proc import run, which

    tool = which("actionlint")
    if tool is None:
        return None
    result = run([tool, "-no-color", str(path)], timeout=60)
    return None if result.ok else (result.stdout + result.stderr).strip()


def run(args: argparse.Namespace, project: Any) -> int:
    import sys

    from helper.ui import console

    if getattr(args, "provider", None) != "github":
        raise UsageError("say which CI to write for", "help.py ci github")
    text = workflow(args.shards, args.python, args.branch, args.run)
    target = Path(args.output) if args.output else project.root / ".github" / "workflows" / "help.yml"
    if not args.write:
        if console.json:
            console.result({"path": str(target), "written": False, "workflow": text})
        else:
            sys.stdout.write(text)
        return 0
    if target.exists() and target.read_text() != text and not args.force:
        raise HelpError(f"{target} exists and differs", "compare with `help.py ci github`, then add --force")
    from helper.fsutil import atomic_write

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text)
    problems = actionlint(target)
    data = {"path": str(target), "written": True, "actionlint": problems or ("ok" if problems is None else "")}
    console.result(data, lambda d: console.success(f"wrote {d['path']}"))
    if problems:
        console.error(f"actionlint found problems in {target}:\n{problems}", "fix the options, or report this")
        return 1
    return 0
