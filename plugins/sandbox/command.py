"""`help.py sandbox run|check`: run a command under the sandbox policy; say what each backend enforces here."""

from __future__ import annotations

import argparse
import os

from helper.errors import UsageError
from plugins.sandbox.runner import BACKENDS, OPTIONS

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

PASSTHROUGH = True
LONG_RUNNING = True

EXAMPLES = """examples:
  help.py sandbox run -- python3 untrusted.py       no network, project read-only, private /tmp, uid 65534
  help.py sandbox run --rw build -- make            let it write to ./build too
  help.py sandbox run --mem 512 --procs 64 --cpu 10 --disk 64 --timeout 30 -- ./job
  help.py sandbox run --json --backend podman -- python3 -c 'print(1)'
  help.py sandbox check                             which backends work here, what each enforces"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "sandbox",
        help="run a command in a sandbox",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("run", "check"))
    parser.add_argument("--backend", choices=BACKENDS, help="force a backend (default: bwrap, firejail, podman)")
    parser.add_argument("--rw", action="append", default=[], metavar="PATH", help="also writable (repeatable)")
    parser.add_argument("--ro", action="append", default=[], metavar="PATH", help="also visible, read-only")
    parser.add_argument(
        "--double", action="store_true", help="two layers: bwrap inside a podman container (both needed)"
    )
    parser.add_argument("--net", action="store_true", help="allow network access")
    parser.add_argument(
        "--mem", type=int, default=OPTIONS["mem"][1], metavar="MIB", help="memory per process (default 1024)"
    )
    parser.add_argument("--procs", type=int, default=OPTIONS["procs"][1], help="processes and threads (default 256)")
    parser.add_argument("--cpu", type=int, default=OPTIONS["cpu"][1], metavar="SECONDS", help="CPU time (default 60)")
    parser.add_argument(
        "--disk", type=int, default=OPTIONS["disk"][1], metavar="MIB", help="size of /tmp and of a file (256)"
    )
    parser.add_argument(
        "--timeout", type=float, default=OPTIONS["timeout"][1], metavar="SECONDS", help="wall clock (default 300)"
    )
    parser.add_argument(
        "--unsafe-no-sandbox", action="store_true", help="run WITHOUT isolation (limits and clean environment only)"
    )
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from plugins.sandbox import runner

    if args.action == "check":
        from plugins.sandbox.check import report

        return report(runner.DOUBLE if args.double else args.backend)

    command = list(args.passthrough)
    if not command:
        raise UsageError("no command to run in the sandbox", "help.py sandbox run -- python3 script.py")
    command, inside, variables = _in_project_environment(command, project)
    return runner.execute(
        args, command, str(project.root) if project.found else None, inside, variables, project.ensure_state_dir
    )


def _in_project_environment(command: list[str], project: Any) -> tuple[list[str], list[str], dict[str, str]]:
    """A bare `python`/`python3` means the project's environment (helper.envs.project_env), as in `help.py run`.

    Returns the command, what the sandbox must show read-only for it (the environment, when it lies outside
    the project), and the variables that put its scripts first on PATH inside.
    """
    if not project.found or command[0] not in ("python", "python3"):
        return command, [], {}
    from helper.envs.project_env import project_environment
    from helper.errors import HelpError
    from plugins.sandbox.policy import SANDBOX_PATH

    try:
        env = project_environment(project)
    except HelpError:
        return command, [], {}
    if not env.exists:
        return command, [], {}
    prefix = env.prefix.resolve()
    root = project.root.resolve()
    inside = [] if prefix == root or root in prefix.parents else [str(prefix)]
    variables = {"PATH": f"{env.python.parent}{os.pathsep}{SANDBOX_PATH}", "VIRTUAL_ENV": str(env.prefix)}
    return [str(env.python), *command[1:]], inside, variables


def checks(project: Any) -> list[Any]:
    from plugins.sandbox.check import doctor_checks

    return doctor_checks()
