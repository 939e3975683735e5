"""`help.py sandbox`: run a command isolated; `sandbox check` says which backend is used."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from helper import proc
from helper.checks import Check
from helper.errors import UsageError
from helper.ui import console
from plugins.sandbox.policy import BACKENDS, Policy, choose_backend, sandbox_env, wrap

PASSTHROUGH = True

EXAMPLES = """examples:
  help.py sandbox run -- python untrusted.py        no network, project read-only, private /tmp
  help.py sandbox run --rw build -- make            let it write to ./build
  help.py sandbox run --net --timeout 60 -- pip download x
  help.py sandbox check                             which backend would be used"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "sandbox",
        help="run a command in a sandbox",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("run", "check"))
    parser.add_argument("--backend", choices=BACKENDS, help="force a backend (default: bwrap, else firejail)")
    parser.add_argument(
        "--rw", action="append", default=[], metavar="PATH", help="a path the command may write (repeatable)"
    )
    parser.add_argument("--net", action="store_true", help="allow network access")
    parser.add_argument("--timeout", type=float, help="stop the command after this many seconds")
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    if args.action == "check":
        name, path = choose_backend(args.backend)
        console.result(
            {"backend": name, "path": path}, lambda d: console.echo(f"sandbox backend: {d['backend']} ({d['path']})")
        )
        return 0
    command = list(args.passthrough)
    if not command:
        raise UsageError("no command to run in the sandbox", "help.py sandbox run -- python script.py")
    writable = []
    for raw in args.rw:
        path = (Path.cwd() / raw).resolve()
        if not path.exists():
            raise UsageError(f"--rw {raw}: {path} does not exist", "create it first or fix the path")
        writable.append(path)
    policy = Policy(workdir=Path.cwd().resolve(), readonly=[project.root], writable=writable, network=args.net)
    argv = wrap(policy, command, args.backend)
    console.verbose("sandbox: " + " ".join(argv))
    if args.timeout is None:
        return proc.passthrough(argv, env=sandbox_env(policy))
    result = proc.run(argv, env=sandbox_env(policy), timeout=args.timeout)
    print(result.stdout, end="")
    print(result.stderr, end="", file=__import__("sys").stderr)
    if result.timed_out:
        console.error(f"sandboxed command stopped after {args.timeout:g}s", "raise --timeout if it needs longer")
        return 124
    return result.returncode


def checks(project: Any) -> list[Check]:
    """Each installed backend really isolating a trivial command (namespaces can be off)."""
    found = [name for name in BACKENDS if shutil.which(name)]
    if not found:
        return [
            Check("sandbox", "warn", "no backend: untrusted code cannot be isolated", "sudo apt-get install bubblewrap")
        ]
    results = []
    for name in found:
        policy = Policy(workdir=Path("/"), network=False)
        probe = proc.run(wrap(policy, ["true"], name), env=sandbox_env(policy), timeout=20)
        if probe.ok:
            results.append(Check(f"sandbox {name}", "ok", "isolates a command (no network, read-only root)"))
        else:
            reason = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
            results.append(
                Check(
                    f"sandbox {name}",
                    "fail",
                    f"{name} is installed but cannot isolate: {reason}",
                    "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root",
                )
            )
    return results
