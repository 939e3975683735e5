"""`help.py sandbox run|check`: run a command under the sandbox policy; say what each backend enforces here."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helper.errors import UsageError
from helper.ui import console

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

BACKENDS = ("bwrap", "firejail", "podman")  # plugins.sandbox.backends.BACKENDS (not imported: start-up time)
DOUBLE = "podman+bwrap"  # plugins.sandbox.backends.DOUBLE
MiB = 1024 * 1024
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
    parser.add_argument("--mem", type=int, default=1024, metavar="MIB", help="memory per process (default 1024)")
    parser.add_argument("--procs", type=int, default=256, help="processes and threads (default 256)")
    parser.add_argument("--cpu", type=int, default=60, metavar="SECONDS", help="CPU time (default 60)")
    parser.add_argument("--disk", type=int, default=256, metavar="MIB", help="size of /tmp and of a file (256)")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS", help="wall clock (default 300)")
    parser.add_argument(
        "--unsafe-no-sandbox", action="store_true", help="run WITHOUT isolation (limits and clean environment only)"
    )
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    if args.action == "check":
        from plugins.sandbox.check import report

        return report(args.backend)
    from plugins.sandbox import api

    command = list(args.passthrough)
    if not command:
        raise UsageError("no command to run in the sandbox", "help.py sandbox run -- python3 script.py")
    command, inside, variables = _in_project_environment(command, project)
    policy = api.Policy(
        workdir=Path.cwd(),
        readonly=[*([project.root] if project.found else []), *inside, *_paths(args.ro, "--ro")],
        writable=_paths(args.rw, "--rw"),
        env=variables,
        network=args.net,
        mem=args.mem * MiB,
        procs=args.procs,
        cpu=args.cpu,
        disk=args.disk * MiB,
        timeout=args.timeout,
    )
    backend = api.UNSAFE if args.unsafe_no_sandbox else args.backend
    if args.double:
        if args.backend or args.unsafe_no_sandbox:
            raise UsageError("--double chooses the backends itself", "drop --backend / --unsafe-no-sandbox")
        backend = DOUBLE
    if args.unsafe_no_sandbox:
        console.warn("running WITHOUT a sandbox (--unsafe-no-sandbox): the command can reach everything you can")
    stream = None if console.json else _echo
    result = api.run(command, policy, backend=backend, on_output=stream)
    if (result.violations or result.limit_hit) and project.found:
        try:
            from helper import __version__

            api.record(project.ensure_state_dir(), result, ["sandbox", "run", *command], __version__)
        except Exception as exc:  # the journal must never change the outcome
            console.verbose(f"journal not written: {exc}")
    console.result(result.to_dict(), _summary)
    if result.limit_hit == "timeout":
        console.error(f"sandboxed command stopped after {args.timeout:g}s", "raise --timeout if it needs longer")
        return 124
    return result.exit_code


def _in_project_environment(command: list[str], project: Any) -> tuple[list[str], list[Path], dict[str, str]]:
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
    inside = [] if prefix == root or root in prefix.parents else [prefix]
    variables = {"PATH": f"{env.python.parent}{os.pathsep}{SANDBOX_PATH}", "VIRTUAL_ENV": str(env.prefix)}
    return [str(env.python), *command[1:]], inside, variables


def _echo(stream: str, line: str) -> None:
    target = sys.stdout if stream == "stdout" else sys.stderr
    target.write(line + "\n")
    target.flush()


def _summary(data: dict[str, Any]) -> None:
    if data["limit_hit"] == "timeout":
        return
    if data["limit_hit"]:
        console.error(f"sandbox: {data['limit_hit']} limit hit", "raise the matching option (--mem, --procs ...)")
    elif data["violations"]:
        console.warn("sandbox: " + "; ".join(data["violations"]))
    console.verbose(f"sandbox ({data['backend']}): exit {data['exit_code']} in {data['duration']:.3f}s")


def _paths(raw: list[str], option: str) -> list[Path]:
    paths = []
    for item in raw:
        path = (Path.cwd() / item).resolve()
        if not path.exists():
            raise UsageError(f"{option} {item}: {path} does not exist", "create it first or fix the path")
        paths.append(path)
    return paths


def checks(project: Any) -> list[Any]:
    from plugins.sandbox.check import doctor_checks

    return doctor_checks()
