"""`sandbox run`'s body, shared by the argparse command (plugins.sandbox.command) and its fast start path
(plugins.sandbox.fast): the options become a Policy, the command runs, the result is printed and, on a
violation, recorded. Only `os` and the sandbox's own modules are imported (no argparse, pathlib or subprocess).
"""

from __future__ import annotations

import os
import sys

from helper.errors import UsageError
from helper.ui import console

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MiB = 1024 * 1024
BACKENDS = ("bwrap", "firejail", "podman")  # plugins.sandbox.backends.BACKENDS (not imported: start-up time)
DOUBLE = "podman+bwrap"  # plugins.sandbox.backends.DOUBLE
# `sandbox run`'s options: name -> (kind, default). kind: "choice" (BACKENDS), "append", "flag", int, float.
OPTIONS: dict[str, tuple[object, object]] = {
    "backend": ("choice", None),
    "rw": ("append", None),
    "ro": ("append", None),
    "double": ("flag", False),
    "net": ("flag", False),
    "mem": (int, 1024),
    "procs": (int, 256),
    "cpu": (int, 60),
    "disk": (int, 256),
    "timeout": (float, 300),
    "unsafe_no_sandbox": ("flag", False),
}


def execute(
    args: Any,
    command: list[str],
    root: str | None,
    inside: list[str],
    variables: dict[str, str],
    state_dir: Callable[[], Any],
) -> int:
    """Run `command` under the policy `args` (the options above as attributes) asks for; the exit code.

    root: the project (shown read-only), None outside a project; inside, variables: what the project's
    environment adds (command.py's _in_project_environment); state_dir() makes and names .help/.
    """
    from plugins.sandbox import api

    cwd = os.getcwd()
    policy = api.Policy(
        workdir=cwd,
        readonly=[*([root] if root else []), *inside, *paths(args.ro, "--ro", cwd)],
        writable=paths(args.rw, "--rw", cwd),
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
    if (result.violations or result.limit_hit) and root:
        try:
            from helper import __version__

            api.record(state_dir(), result, ["sandbox", "run", *command], __version__)
        except Exception as exc:  # the journal must never change the outcome
            console.verbose(f"journal not written: {exc}")
    console.result(result.to_dict(), _summary)
    if result.limit_hit == "timeout":
        console.error(f"sandboxed command stopped after {args.timeout:g}s", "raise --timeout if it needs longer")
        return 124
    return result.exit_code


def paths(raw: list[str] | None, option: str, cwd: str) -> list[str]:
    """--rw / --ro paths, relative to `cwd`, resolved; a UsageError for one that does not exist."""
    found = []
    for item in raw or []:
        path = os.path.realpath(os.path.join(cwd, item))
        if not os.path.exists(path):
            raise UsageError(f"{option} {item}: {path} does not exist", "create it first or fix the path")
        found.append(path)
    return found


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
