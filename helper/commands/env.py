"""`help.py env`: which Python environment the project uses, whether it is healthy, and fixing it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from helper.errors import HelpError

REPLAYABLE = True  # `env --python` is replayed while no file its answer was read from has changed (helper.replay)

EXAMPLES = """examples:
  help.py env                         the environments found; the project's one marked *
  help.py env --python                just the chosen interpreter's path, for scripts
  help.py env --json                  name, kind, executable, prefix, version, manager, reason
  help.py env check                   is it healthy? each problem with the command that fixes it
  help.py env repair                  apply those fixes (recreate a broken venv, re-sync)
  help.py env create --python 3.12    make the project's environment (--manager uv|poetry|pdm|venv|conda)
  help.py env report                  write a diagnostic report (Markdown + JSON, secrets masked)"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from helper.parsing import add_global_options

    parser = sub.add_parser(
        "env",
        help="find, check and repair the project's Python environment",
        description="Find the project's Python environment without running it, check it and repair it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--python", dest="print_python", action="store_true", help="print only the chosen interpreter's path"
    )
    parser.add_argument("--refresh", action="store_true", help="ignore the detection cache")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    check = actions.add_parser("check", help="check the environment; each problem with its fix")
    check.add_argument("--offline", action="store_true", help="skip checks that run the project's package manager")
    repair = actions.add_parser("repair", help="apply the fixes `env check` proposes")
    repair.add_argument("--dry-run", action="store_true", help="print the fixes without applying them")
    create = actions.add_parser("create", help="create the project's environment")
    from helper.managers.registry import MANAGERS

    kinds = ("auto", *("venv" if name == "pip" else name for name in MANAGERS))
    create.add_argument("--manager", choices=kinds, default="auto")
    create.add_argument("--python", dest="version", metavar="X.Y", help="Python version (default: the project's)")
    create.add_argument("--force", action="store_true", help="replace an existing environment (kept aside until done)")
    report = actions.add_parser("report", help="write a diagnostic report (Markdown and JSON, secrets masked)")
    report.add_argument("--output", metavar="DIR", help="directory for env-report.md/json (default: .help/)")
    report.add_argument("--offline", action="store_true", help="skip checks that run the project's package manager")
    for action in (check, repair, create, report):
        add_global_options(action, suppress=True)
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.envs.detect import for_project

    if args.print_python:
        return print_python(args, project)
    action = getattr(args, "action", None)
    if action is None:
        return show(for_project(project, refresh=args.refresh), project)
    from helper.envs import actions

    return int(getattr(actions, action)(args, project))


def show(found: Any, project: Any) -> int:
    from helper.managers.registry import decide
    from helper.ui import console

    manager, manager_reason = decide(project)

    def render(data: dict[str, Any]) -> None:
        rows = []
        for env in found.envs:
            mark = "*" if env.chosen else ("!" if env.problem or not env.exists else " ")
            note = env.problem or ("missing" if not env.exists else ("active" if env.active else ""))
            rows.append(
                [
                    mark,
                    env.kind,
                    env.name,
                    env.version or "?",
                    env.manager or "-",
                    env.executable or "-",
                    f"{env.confidence:.2f}",
                    note,
                ]
            )
        console.table(rows, ["", "kind", "name", "version", "manager", "executable", "score", "note"])
        chosen = found.chosen
        console.echo("")
        if chosen is None:
            console.echo("the project's environment does not exist yet; fix: help.py install (or help.py env create)")
        else:
            console.echo(f"chosen: {chosen.executable}")
            console.echo(f"why:    {chosen.reason}")
        console.echo(f"manager: {manager} ({manager_reason})")
        for kind, facts in found.platform.items():
            console.echo(
                f"{kind}: {facts.get('runtime') or facts.get('distro') or 'yes'} ({'; '.join(facts['evidence'])})"
            )
        for error in found.errors:
            console.warn(error)

    console.result(found.to_dict() | {"manager": manager, "manager_reason": manager_reason}, render)
    return 0  # a listing: `env check` and `env --python` are the ones whose exit code says the environment is missing


def print_python(args: argparse.Namespace, project: Any) -> int:
    """The project's environment's interpreter (helper.envs.project_env), as test, run and install use it."""
    from helper.envs.project_env import project_environment

    env = project_environment(project)
    if not env.exists:
        raise HelpError(
            f"the project's environment has no interpreter yet: {env.python} ({env.reason})",
            "run `help.py install` to make it (or `help.py env` to see the environments found)",
        )
    if args.json:
        from helper.ui import console

        console.result({"python": str(env.python), "reason": env.reason, "manager": env.manager})
    else:
        sys.stdout.write(f"{env.python}\n")
    if not args.refresh:
        from helper import replay

        paths, own = env.inputs(project)
        replay.offer(paths, own=own)  # scripts ask this often: answered by replay while nothing read changes
    return 0
