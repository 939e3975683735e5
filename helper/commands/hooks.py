"""`help.py hooks`: plain git pre-commit / pre-push hooks that run help.py's tests.

`install` keeps a hook that is already there (as HOOK.help-py-saved) and runs
it first from the new hook; `uninstall` puts it back exactly as it was. Hooks
help.py did not write are never deleted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from helper.errors import HelpError

MARK = "# installed by `help.py hooks install`"
SAVED = ".help-py-saved"
COMMANDS = {"pre-commit": "test --changed", "pre-push": "test"}

EXAMPLES = """examples:
  help.py hooks install               pre-commit hook: `help.py test --changed` before each commit
  help.py hooks install --hook pre-push
                                      pre-push hook: `help.py test`
  help.py hooks uninstall             remove it; a hook that was there before comes back
  help.py hooks status --json         which hooks are installed

Other repositories can use help.py through pre-commit instead: see .pre-commit-hooks.yaml."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from helper.parsing import add_global_options

    parser: argparse.ArgumentParser = sub.add_parser(
        "hooks",
        help="install or remove git hooks that run help.py's tests",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    for name, text in (
        ("install", "install a hook"),
        ("uninstall", "remove help.py's hook, restoring the one before it"),
        ("status", "which hooks help.py installed"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--hook", choices=tuple(COMMANDS), action="append", help="which hook (default pre-commit)")
        add_global_options(action, suppress=True)
    return parser


def hooks_dir(root: Path) -> Path:
    from helper.proc import run

    found = run(["git", "rev-parse", "--git-path", "hooks"], cwd=root, timeout=30)
    if not found.ok:
        raise HelpError(f"{root} is not in a git repository", "run `git init` first, or pass -C DIR")
    path = Path(found.stdout.strip())
    return path if path.is_absolute() else root / path


def script(hook: str, saved: Path) -> str:
    help_py = Path(__file__).resolve().parents[2] / "help.py"
    python = shlex.quote(sys.executable)
    return (
        "#!/bin/sh\n"
        f"{MARK}\n"
        f"# `help.py hooks uninstall` removes it{' and restores the previous hook' if saved.exists() else ''}.\n"
        f'if [ -x {shlex.quote(str(saved))} ]; then {shlex.quote(str(saved))} "$@" || exit $?; fi\n'
        f"exec {python} {shlex.quote(str(help_py))} {COMMANDS[hook]}\n"
    )


def ours(path: Path) -> bool:
    try:
        return MARK in path.read_text(errors="replace")
    except OSError:
        return False


def install(directory: Path, hook: str) -> str:
    from helper.fsutil import atomic_write

    path, saved = directory / hook, directory / (hook + SAVED)
    directory.mkdir(parents=True, exist_ok=True)
    state = "updated" if ours(path) else "installed"
    if path.exists() and not ours(path):
        if saved.exists():
            raise HelpError(f"{saved} already exists", f"move it away, then run `help.py hooks install --hook {hook}`")
        os.replace(path, saved)  # kept byte for byte, mode included
        state = "installed (previous hook kept and run first)"
    atomic_write(path, script(hook, saved), mode=0o755)
    return state


def uninstall(directory: Path, hook: str) -> str:
    path, saved = directory / hook, directory / (hook + SAVED)
    if path.exists() and not ours(path):
        return "not help.py's hook: left alone"
    if saved.exists():
        os.replace(saved, path)
        return "removed; previous hook restored"
    if path.exists():
        path.unlink()
        return "removed"
    return "not installed"


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.ui import console

    action = getattr(args, "action", None)
    if action is None:
        raise HelpError("say what to do with the hooks", "help.py hooks install | uninstall | status")
    directory = hooks_dir(project.root)
    wanted = args.hook or ["pre-commit"]
    if action == "install":
        data = {hook: install(directory, hook) for hook in wanted}
    elif action == "uninstall":
        data = {hook: uninstall(directory, hook) for hook in wanted}
    else:
        data = {
            hook: "installed" if ours(directory / hook) else ("other" if (directory / hook).exists() else "none")
            for hook in (args.hook or COMMANDS)
        }

    def render(d: dict[str, str]) -> None:
        for hook, state in d.items():
            console.echo(f"{hook}: {state}")

    console.result(data, render)
    return 0
