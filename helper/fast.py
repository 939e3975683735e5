"""The fast start path: a plugin's hot command run before the argparse CLI loads.

A plugin names a hand-written entry per action of its command,
`Plugin(fast={"run": "plugins.sandbox.fast:run"})`. help.py calls `dispatch`
before importing helper.cli's parser; it reads, with `os` and `marshal` only:

- the index of fast entries (helper.fastindex, kept in the user's cache by the
  full CLI, which discovers the plugins anyway);
- the merged configuration from .help/config.cache, valid under the same signature the
  full loader checks (helper.config_cache.signature_of), so pyproject.toml, config/help*.toml,
  profiles, HELP_* variables and -C mean what they mean in the full CLI.

Anything it does not understand or cannot trust (no index, no cached configuration,
--help, --debug, an unknown option, a disabled or unavailable plugin) returns None and
the full CLI runs as if the fast path did not exist. The entry gets a `Start` and
returns an exit code, or None (before printing or starting anything) to hand over.
A run ends as the CLI ends it (helper.cli.outcome) and leaves the same journal record.
"""

from __future__ import annotations

import os
import sys
import time

from helper import __version__

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

DISABLE_VARIABLE = "HELP_NO_FAST"  # set to 1: always the full CLI (tests compare both paths with it)
FLAGS = {"--json": "json", "-q": "quiet", "--quiet": "quiet", "--no-color": "no_color"}
VALUED = {"-C": "project", "--project": "project", "--profile": "profile"}


class Start:
    """One fast run: the global options, the arguments after the command name, the project and its configuration."""

    def __init__(self, argv: list[str], command: str, rest: list[str], options: dict[str, Any]) -> None:
        self.argv = argv  # the whole command line, as the journal records it
        self.command = command
        self.rest = rest  # after the command name, global options taken out (up to a `--`)
        self.json: bool = options["json"]
        self.verbose: int = options["verbose"]
        self.quiet: bool = options["quiet"]
        self.no_color: bool = options["no_color"]
        self.profile: str | None = options["profile"]
        self.root = ""  # the project root (real path), or the start directory when no project was found
        self.found = False
        self.config: dict[str, Any] = {}
        self.state: str | None = None  # the state folder the run's record goes to, once `begin` made it
        self.long_running = False
        self.key = f"{time.time_ns()}-{os.getpid()}"
        self.started = time.monotonic()  # the run's duration counts from here, as the CLI's from its main()
        self.fields: dict[str, Any] = {"started": time.time(), "command": command, "argv": argv, "version": __version__}
        self.begun = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def begin(self) -> None:
        """The entry is committed to run (no hand-over after this): a long-running command goes on the record now."""
        self.begun = True
        if self.state is None or not self.long_running:
            return
        from helper import runlog

        try:
            runlog.record(self.state, self.key, **self.fields)
        except OSError as exc:
            from helper.ui import console

            console.verbose(f"journal not written: {exc}")

    def state_dir(self) -> str:
        """The project's state folder, made (with its .gitignore) when missing, as Project.ensure_state_dir."""
        from helper.root import state_dir

        state = state_dir(self.root)
        if not os.path.exists(os.path.join(state, ".gitignore")):
            from helper.fsutil import atomic_write

            os.makedirs(state, exist_ok=True)
            atomic_write(os.path.join(state, ".gitignore"), "# help.py's state: never commit it\n*\n", fsync=False)
        return state


def split(argv: list[str]) -> tuple[str, list[str], dict[str, Any]] | None:
    """(command, the rest, global options) of a simple command line; None for anything the full CLI must see."""
    options: dict[str, Any] = {
        "json": False, "verbose": 0, "quiet": False, "no_color": False, "project": None, "profile": None,
    }  # fmt: skip
    command = None
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            if command is None:
                return None
            rest += argv[index - 1 :]
            break
        if arg in ("-h", "--help", "--version", "--debug"):
            return None
        if arg in FLAGS:
            options[FLAGS[arg]] = True
        elif arg in ("-v", "--verbose"):
            options["verbose"] += 1
        elif arg in VALUED:
            if index >= len(argv) or argv[index].startswith("-"):
                return None
            options[VALUED[arg]] = argv[index]
            index += 1
        elif arg.startswith(("--project=", "--profile=")):
            name, _, value = arg.partition("=")
            options[VALUED[name]] = value
        elif arg.startswith("-C") and len(arg) > 2 and not arg.startswith("-C-"):
            options["project"] = arg[2:]
        elif command is None:
            if arg.startswith("-"):
                return None
            command = arg
        else:
            rest.append(arg)
    if command is None:
        return None
    return command, rest, options


def dispatch(argv: list[str]) -> int | None:
    """Run `argv` through its plugin's fast entry; None when the full CLI must run it (nothing was done then)."""
    if os.environ.get(DISABLE_VARIABLE) == "1" or os.environ.get("HELP_DEBUG") == "1":
        return None
    parsed = split(argv)
    if parsed is None:
        return None
    command, rest, options = parsed
    from helper.fastindex import read_index

    index = read_index()
    if index is None or command not in index["commands"]:
        return None
    entry = index["commands"][command]
    action = next((a for a in rest if not a.startswith("-")), None)
    target = entry["fast"].get(action) if action is not None else None
    if target is None:
        return None
    if entry.get("prefetch"):  # the plugin starts its slow part first, as in the full CLI (helper.cli._prefetch)
        _prefetch(entry["prefetch"], argv)
    start = Start(argv, command, rest, options)
    if not _configure(start, options, index["settings"]) or not _available(entry, start.get("plugins.disabled") or []):
        return None
    module = _entry_module(target)
    if module is None:
        return None
    function = target.partition(":")[2]
    start.long_running = bool(getattr(module, "LONG_RUNNING", False))
    from helper.ui import console

    console.configure(
        json_mode=start.json, verbosity=-1 if start.quiet else start.verbose, color=False if start.no_color else None
    )
    if start.found and start.get("journal.enabled", True):
        try:
            start.state = start.state_dir()
        except Exception as exc:  # the journal must never stop the work itself
            console.verbose(f"journal unavailable: {exc}")
    return _run(getattr(module, function), start)


def _entry_module(target: str) -> Any:
    """The module of a "module:function" entry, found as plugin discovery finds it (the bundled package,
    HELP_PLUGIN_PATH's folders added to it); None when it cannot be imported (the full CLI then says why)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        if os.environ.get("HELP_PLUGIN_PATH") or os.path.isdir(os.path.join(here, "helper_plugins")):
            from helper.plugins import _package_for_paths

            _package_for_paths()  # HELP_PLUGIN_PATH's folders, or the installed package known as `plugins`
        __import__(target.partition(":")[0])
        return sys.modules[target.partition(":")[0]]
    except Exception:
        return None


def _prefetch(target: str, argv: list[str]) -> None:
    module = _entry_module(target)
    try:  # noqa: SIM105
        getattr(module, target.partition(":")[2])(argv)
    except Exception:  # only ever an optimisation: the command does the work itself
        pass


def _run(entry: Any, start: Start) -> int | None:
    from helper import cli

    handed: list[bool] = []

    def body() -> int:
        code = entry(start)
        if code is None:
            handed.append(True)
            return 0
        return int(code)

    code, error = 1, None
    try:
        code, error = cli.outcome(body)
        if handed and not start.begun:
            return None
        return code
    finally:
        if start.state is not None and start.begun:
            start.fields.update(
                exit_code=code, duration=time.monotonic() - start.started, error=error, cache_hits=0, cache_misses=0
            )
            try:
                cli._journal_end(start.state, start.key, start, start.fields)
            except Exception as exc:
                cli.console.verbose(f"journal not written: {exc}")


def _configure(start: Start, options: dict[str, Any], settings: tuple[object, ...]) -> bool:
    """The project and its merged configuration, from the configuration cache only; False to hand over."""
    from helper.root import RESERVED_VARIABLES, find_root

    begin = options["project"] or os.environ.get("HELP_PROJECT") or "."
    if not os.path.isdir(begin):
        return False
    root = find_root(begin)
    if root is None:  # no project: the defaults, unless a HELP_* variable sets something
        if any(k.startswith("HELP_") and k not in RESERVED_VARIABLES for k in os.environ):
            return False
        start.root = os.path.realpath(begin)
        start.config = {"plugins.disabled": [], "journal.enabled": True, "profile": "development"}
        return True
    from helper.config_cache import read_entry, signature_of

    entry = read_entry(root, signature_of(root, options["profile"], dict(os.environ), settings))
    if entry is None:
        return False
    start.root, start.found, start.config = root, True, dict(entry["config"])
    return True


def _available(entry: dict[str, Any], disabled: list[str]) -> bool:
    """Whether the plugin can run (else the full CLI says why, in its own words)."""
    if entry["plugin"] in disabled:
        return False
    if entry["modules"]:
        return False  # checking Python modules costs an importlib.util import: the full CLI does it
    from helper.which import which

    return all(any(which(b) for b in choices) for choices in entry["binaries"])
