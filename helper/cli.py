"""The command-line dispatcher.

Each command is a module in helper/commands/ (or a plugin's) with
`add_parser(subparsers)` and `run(args, project) -> int`. Only the module of
the command being run is imported, so `--help` and quick commands start fast.
"""

from __future__ import annotations

import os
import sys
import time

from helper import __version__
from helper.errors import EXIT_INTERRUPTED, EXIT_USAGE, HelpError
from helper.ui import console

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

# name -> (module, one-line summary). Plugins add theirs through helper.plugins.
COMMANDS: dict[str, tuple[str, str]] = {
    "install": ("helper.commands.install", "make the project's environment, add or upgrade packages"),
    "uninstall": ("helper.commands.uninstall", "remove packages from the project and its environment"),
    "env": ("helper.commands.env", "find, check and repair the project's Python environment"),
    "test": ("helper.commands.test", "run the project's tests"),
    "run": ("helper.commands.run", "start the dev environment: .env, migrations, server, workers"),
    "build": ("helper.commands.build", "build wheel, sdist or image (cached by source hash)"),
    "config": ("helper.commands.config", "show or check the configuration"),
    "cache": ("helper.commands.cache", "inspect and prune the result cache"),
    "history": ("helper.commands.history", "list past runs from the journal"),
    "plugins": ("helper.commands.plugins", "list plugins and what they need"),
    "doctor": ("helper.commands.doctor", "check that help.py and the project are healthy"),
    "mcp": ("helper.commands.mcp", "serve help.py's commands to MCP clients (assistants, editors)"),
    "hooks": ("helper.commands.hooks", "install or remove git hooks that run help.py's tests"),
    "completion": ("helper.commands.completion", "print a bash or zsh completion script"),
    "metrics": ("helper.commands.metrics", "print the project's health as Prometheus metrics"),
    "ci": ("helper.commands.ci", "write a CI workflow for the project (GitHub Actions)"),
    "monitor": ("helper.commands.monitor", "check the project's health periodically; alert on changes"),
    "init": ("helper.commands.init", "write help.py's config, env template, hooks, editor tasks and CI"),
}

EPILOG = """examples:
  python help.py test                 run the tests (makes .venv on first use)
  python help.py test -- -k parser    pass arguments through to pytest
  python help.py doctor               check the setup, with a fix for each problem
  python help.py config show --json   the merged configuration, for scripts
  python help.py history --failed     the runs that failed

exit codes: 0 ok, 1 failed, 2 usage or configuration error, 130 interrupted"""

# Global options, accepted before and after the command: (flags, metavar, help).
GLOBAL_OPTIONS: list[tuple[tuple[str, ...], str | None, str]] = [
    (("-C", "--project"), "DIR", "project directory (default: found from cwd)"),
    (("--profile",), "NAME", "configuration profile (or HELP_PROFILE)"),
    (("--json",), None, "machine-readable output on stdout"),
    (("-v", "--verbose"), None, "more output (repeatable)"),
    (("-q", "--quiet"), None, "only errors"),
    (("--debug",), None, "tracebacks on errors"),
    (("--no-color",), None, "no colour (also NO_COLOR)"),
]
# Global options taking a value: skipped when looking for the command name.
_VALUE_OPTIONS = {flag for flags, metavar, _ in GLOBAL_OPTIONS if metavar for flag in flags}


def command_name(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--":
            return None
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _all_commands() -> dict[str, tuple[str, str, Any]]:
    """name -> (module, summary, plugin or None) for built-in and plugin commands."""
    commands: dict[str, tuple[str, str, Any]] = {
        name: (mod, summary, None) for name, (mod, summary) in COMMANDS.items()
    }
    from helper.plugins import command_index

    for name, (module, summary, plugin) in command_index().items():
        commands.setdefault(name, (module, f"{summary} [plugin: {plugin.name}]", plugin))
    return commands


def _prefetch(argv: list[str], commands: dict[str, tuple[str, str, Any]]) -> None:
    """Let the plugin of the command being run start its slow part (its PLUGIN's `prefetch`) before parsing."""
    name = command_name(argv)
    plugin = commands[name][2] if name in commands else None
    if plugin is None or not getattr(plugin, "prefetch", None):
        return
    try:
        import importlib

        module_name, _, function = plugin.prefetch.partition(":")
        getattr(importlib.import_module(module_name), function)(argv)
    except Exception as exc:  # only ever an optimisation: the command does the work itself
        console.verbose(f"prefetch of {plugin.name} skipped: {exc}")


def _remember_fast(argv: list[str], commands: dict[str, tuple[str, str, Any]]) -> None:
    """Keep the index of the plugins' fast start paths (helper.fast) current when one of their commands runs here."""
    name = command_name(argv)
    plugin = commands[name][2] if name in commands else None
    if plugin is None or not getattr(plugin, "fast", None):
        return
    try:
        from helper import fastindex

        fastindex.remember()
    except Exception as exc:  # only ever an optimisation
        console.verbose(f"fast start index not written: {exc}")


def _journal_dir(project: Any) -> str | None:
    """The state folder the run's record goes to, or None when the journal is off (or unreachable)."""
    if not project.found or not project.config.get("journal.enabled", True):
        return None
    try:
        return str(project.ensure_state_dir())
    except Exception as exc:  # the journal must never stop the work itself
        console.verbose(f"journal unavailable: {exc}")
        return None


def _journal_end(state: str, key: str, project: Any, fields: dict[str, Any]) -> None:
    """The run's end record: straight into SQLite when the command opened the journal anyway,
    else one small file that the next reader of the journal moves in (helper.runlog)."""
    from helper import runlog

    if "helper.journal" not in sys.modules:
        runlog.record(state, key, **fields)
        return
    from pathlib import Path

    from helper.journal import Journal

    journal = Journal(Path(state) / "journal.sqlite", keep=int(project.config["journal.keep"]))
    try:
        run_id = journal.start(fields["command"], fields["argv"], fields["version"])
        journal.finish(
            run_id,
            fields["exit_code"],
            duration=fields["duration"],
            error=fields["error"],
            cache_hits=fields["cache_hits"],
            cache_misses=fields["cache_misses"],
        )
    finally:
        journal.close()
    import contextlib

    with contextlib.suppress(OSError):
        os.unlink(os.path.join(state, runlog.PENDING_DIR, key + runlog.START))


def _cache_counts() -> tuple[int, int]:
    """Hits and misses of every cache this process opened; flushes their stats."""
    cache_module = sys.modules.get("helper.cache")
    if cache_module is None:
        return 0, 0
    hits = misses = 0
    for cache in cache_module.OPENED:
        hits += cache.session.hits
        misses += cache.session.misses
        for problem in cache.session.corrupt_keys:
            console.warn(f"cache entry was corrupt and has been evicted: {problem}")
        try:
            cache.flush()
        except Exception as exc:
            console.verbose(f"cache stats not saved: {exc}")
    return hits, misses


def top_help(commands: dict[str, tuple[str, str, Any]]) -> str:
    """The top-level help, formatted without argparse (it is the most run page)."""
    lines = [
        "usage: help.py [global options] COMMAND [ARGS...]",
        "",
        "One command for a Python project's whole development loop.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<14}{summary}" for name, (_, summary, _) in commands.items()]
    lines += ["", "global options:"]
    for flags, metavar, text in GLOBAL_OPTIONS:
        label = ", ".join(flags) + (f" {metavar}" if metavar else "")
        lines.append(f"  {label:<22}{text}")
    lines += [
        f"  {'--version':<22}print the version and exit",
        f"  {'-h, --help':<22}this help; `help.py COMMAND --help` for one command",
        "",
        EPILOG,
    ]
    from helper.plugins import problems

    broken = problems()
    if broken:
        names = ", ".join(sorted({p.name for p in broken}))
        lines += ["", f"plugins with problems: {names} (see `help.py plugins`)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in ([], ["-h"], ["--help"]):
        sys.stdout.write(top_help(_all_commands()))
        return 0 if argv else EXIT_USAGE
    if argv == ["--version"]:
        sys.stdout.write(f"help.py {__version__}\n")
        return 0
    started = time.monotonic()
    debug = "--debug" in argv or os.environ.get("HELP_DEBUG") == "1"
    console.configure(json_mode="--json" in argv, debug=debug, color=False if "--no-color" in argv else None)
    args = None
    try:
        commands = _all_commands()
        _prefetch(argv, commands)
        _remember_fast(argv, commands)
        from helper.parsing import build_parser

        parser, module, plugin = build_parser(argv, commands)
        if getattr(module, "PASSTHROUGH", False):
            head, tail = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
            args, unknown = parser.parse_known_args(head)
            args.passthrough = unknown + tail
        else:
            args = parser.parse_args(argv)
        console.configure(
            json_mode=args.json,
            verbosity=-1 if args.quiet else args.verbose,
            debug=args.debug or debug,
            color=False if args.no_color else None,
        )
        if module is None:
            sys.stdout.write(top_help(_all_commands()))
            return EXIT_USAGE
        from pathlib import Path

        from helper import project as project_module

        start = Path(args.project or os.environ.get("HELP_PROJECT") or ".")
        if getattr(module, "NEEDS_CONFIG", True):
            project = project_module.load(start, profile=args.profile)
        else:
            project = project_module.Project(root=start.resolve(), found=False, profile="development")
        if plugin is not None:
            from helper.plugins import require

            require(plugin, project.config.get("plugins.disabled"))
        return _run(module, args, project, argv, started)
    except HelpError as exc:
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted", "nothing was left half-written; run the command again to finish")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _run(module: Any, args: Any, project: Any, argv: list[str], started: float) -> int:
    state = _journal_dir(project)
    fields: dict[str, Any] = {"started": time.time(), "command": args.command, "argv": argv, "version": __version__}
    key = f"{time.time_ns()}-{os.getpid()}"
    if state is not None and getattr(module, "LONG_RUNNING", False):
        from helper import runlog

        try:  # on the record while it runs: shown as running, and as killed if it never ends
            runlog.record(state, key, **fields)
        except OSError as exc:
            console.verbose(f"journal not written: {exc}")
    code, error = 1, None
    try:
        if getattr(module, "REPLAYABLE", False) and project.found:
            code, error = outcome(lambda: _run_recorded(module, args, project, argv))
        else:
            code, error = outcome(lambda: module.run(args, project))
        return code
    finally:
        hits, misses = _cache_counts()
        if state is not None:
            fields.update(
                exit_code=code,
                duration=time.monotonic() - started,
                error=error,
                cache_hits=hits,
                cache_misses=misses,
            )
            try:
                _journal_end(state, key, project, fields)
            except Exception as exc:
                console.verbose(f"journal not written: {exc}")


def outcome(body: Any) -> tuple[int, str | None]:
    """Run a command's `body()`: (exit code, the error's headline or None), each failure reported as the CLI does.
    Shared with the fast start path (helper.fast), so both end a run the same way."""
    try:
        return int(body() or 0), None
    except HelpError as exc:
        _report(exc)
        return exc.exit_code, exc.headline()
    except KeyboardInterrupt:
        console.error("interrupted", "nothing was left half-written; run the command again to finish")
        return EXIT_INTERRUPTED, "interrupted"
    except Exception as exc:
        error = f"internal error: {exc.__class__.__name__}: {exc}"
        if console.debug:
            import traceback

            traceback.print_exc()
        console.error(error, "this is a bug in help.py; rerun with --debug and report the traceback")
        return 1, error


def _run_recorded(module: Any, args: Any, project: Any, argv: list[str]) -> int:
    """Run a command that may offer its answer for replay, keeping a copy of what it prints."""
    from helper import replay

    out, err = replay.Tee(sys.stdout), replay.Tee(sys.stderr)
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        code = int(module.run(args, project) or 0)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    found = replay.take_offer()
    if code == 0 and found is not None:
        found.paths += [module.__file__, replay.__file__, os.path.join(os.path.dirname(replay.__file__), "__init__.py")]
        try:
            replay.record(project.root, args.command, argv, found, code, "".join(out.copy), "".join(err.copy))
        except OSError as exc:
            console.verbose(f"answer not kept for replay: {exc}")
    return code


def _report(exc: HelpError) -> None:
    if console.json:
        import json

        sys.stdout.write(json.dumps(exc.to_dict()) + "\n")
    if console.debug:
        import traceback

        traceback.print_exc()
    console.error(exc.headline(), exc.hint)
