"""`help.py test`: run the project's tests with pytest in the project's test environment."""

from __future__ import annotations

import argparse
from typing import Any

from helper import proc
from helper.errors import HelpError
from helper.ui import console

LONG_RUNNING = True
PASSTHROUGH = True  # unknown options and everything after `--` go to pytest

EXAMPLES = """examples:
  help.py test                        run the tests (creates .venv on first use)
  help.py test -x -k parser           options help.py does not know go to pytest
  help.py test -- --collect-only      everything after -- goes to pytest"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return sub.add_parser(
        "test", help="run the project's tests", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.testing.environment import ensure

    python = ensure(project)
    check = proc.run([str(python), "-c", "import pytest"], timeout=60)
    if not check.ok:
        raise HelpError(f"pytest is not installed in {python.parent.parent}", f"{python} -m pip install pytest")
    cmd = [str(python), "-m", "pytest", *project.config["test.pytest_args"], *args.passthrough]
    console.verbose("running " + " ".join(cmd))
    code = proc.passthrough(cmd, cwd=project.root)
    if code == 5:
        console.warn("pytest collected no tests")
    return code
