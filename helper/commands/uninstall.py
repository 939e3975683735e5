"""`help.py uninstall PKG...`: remove packages from the manifest, the lock and the environment."""

from __future__ import annotations

import argparse
from typing import Any

from helper.errors import HelpError
from helper.ui import console

LONG_RUNNING = True

EXAMPLES = """examples:
  help.py uninstall requests            remove from the dependencies and the environment
  help.py uninstall pytest --dev        remove from the dev dependencies
  help.py uninstall mkdocs --group docs remove from a dependency group"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from helper.commands.install import add_target_options

    parser = sub.add_parser(
        "uninstall",
        help="remove packages from the project and its environment",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("packages", nargs="+", metavar="PKG")
    add_target_options(parser)
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.commands.install import render, target
    from helper.managers.base import parse_requirement
    from helper.managers.registry import choose
    from helper.managers.workflow import execute
    from helper.names import canonical

    manager, _reason = choose(project)
    names = [parse_requirement(p).name for p in args.packages]
    declared = set(manager.declared())
    missing = [n for n in names if canonical(n) not in declared]
    if missing:
        raise HelpError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not a dependency of this project",
            "`help.py install --list` shows what is installed; nothing was changed",
        )
    wanted = target(args)
    if not (args.dev or args.group or args.optional):
        # No place given: remove each package from where the manifest declares it.
        places = {n: manager.locate(n) for n in names}
        distinct = {repr(p) for p in places.values() if p is not None}
        if len(distinct) == 1:
            wanted = next(p for p in places.values() if p is not None)
        elif len(distinct) > 1:
            raise HelpError(
                f"{', '.join(names)} are declared in different places",
                "uninstall them one at a time (or say where with --dev, --group or --optional)",
            )
    outcome = execute(project, manager, "remove", lambda r: manager.remove(r, names, wanted))
    console.result(outcome.to_dict(), render)
    return 0
