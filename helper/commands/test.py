"""`help.py test`: run only the tests a change can break; reuse every result that cannot change."""

from __future__ import annotations

import argparse
from typing import Any

LONG_RUNNING = True
PASSTHROUGH = True  # unknown options and everything after `--` go to pytest
REPLAYABLE = True  # an all-from-cache answer is replayed while nothing it read changes (helper.replay)

EXAMPLES = """examples:
  help.py test                        run what changed could break; the rest comes from the cache
  help.py test --explain              say why each test runs or is reused
  help.py test --all                  run everything (results are still cached)
  help.py test --changed origin/main  only tests depending on files changed since a git ref
  help.py test --component parser     only the tests of one component
  help.py test --component js-client  a component with its own runner (test.components: path, runner)
  help.py test --shard 2/4            this runner's quarter, balanced by recorded durations
  help.py test --quality              also ruff check, ruff format --check, mypy (cached per file)
  help.py test --junit report.xml     JUnit XML with every test, cached ones marked
  help.py test -- -x -n 4             everything after -- goes to pytest (pytest-xdist works)
  help.py test --no-sync              test in the environment as it is (read-only trees, sandboxes)

A test runs when it is new, failed last time, or something it depends on changed:
a function it executed, a module it imports, a file it read, a conftest.py, the
Python version, installed packages, pytest's configuration or test.env_vars."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "test", help="run the project's tests", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--all", action="store_true", help="run every test, ignoring cached results")
    parser.add_argument(
        "--changed",
        nargs="?",
        const="HEAD",
        metavar="GIT_REF",
        help="only tests affected by files changed since GIT_REF (default HEAD)",
    )
    parser.add_argument(
        "--component", metavar="NAME", help="only the tests of one component (test.components, or found)"
    )
    parser.add_argument("--explain", action="store_true", help="print why each test is run or taken from the cache")
    parser.add_argument("--shard", metavar="K/N", help="run shard K of N, balanced by recorded durations")
    parser.add_argument(
        "--quality", action="store_true", help="also run ruff check, ruff format --check and mypy where configured"
    )
    parser.add_argument("--junit", metavar="PATH", help="write a JUnit XML report (cached results included and marked)")
    parser.add_argument("--cov", action="store_true", help="measure coverage with pytest-cov (runs every test)")
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="use the project's environment as it is, never sync it (also test.sync = false, HELP_TEST__SYNC=0)",
    )
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.testing.pipeline import execute

    return execute(project, args)
