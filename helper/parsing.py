"""argparse glue: the parser for one command line, with only that command's module imported."""

from __future__ import annotations

import argparse
import importlib

from helper import __version__
from helper.cli import EPILOG, GLOBAL_OPTIONS, command_name
from helper.errors import HelpError, UsageError

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

PROG = "help.py"


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it (COLUMNS, then the tty, then 80)."""
    import os
    import sys

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


_FORMATTERS: dict[type, type] = {}


def _sized(formatter: type) -> type:
    """`formatter` told the width up front: argparse would import shutil (and bz2, lzma) to ask for it,
    once per add_argument, which is a measurable share of a quick command's start."""
    if formatter not in _FORMATTERS:

        def __init__(self: Any, prog: str, *args: Any, **kwargs: Any) -> None:
            if len(args) < 3 and kwargs.get("width") is None:
                kwargs["width"] = _columns() - 2  # as HelpFormatter computes it
            formatter.__init__(self, prog, *args, **kwargs)  # type: ignore[misc]

        _FORMATTERS[formatter] = type(formatter.__name__, (formatter,), {"__init__": __init__})
    return _FORMATTERS[formatter]


class Parser(argparse.ArgumentParser):
    """argparse with usage errors raised as UsageError (one line + a hint)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["formatter_class"] = _sized(kwargs.get("formatter_class") or argparse.HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, f"see `{self.prog} --help`")


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Global flags on the top parser (with defaults) and on each command (suppressed
    there, so a flag given before the command is not reset by the sub-parser)."""
    group = parser.add_argument_group("global options")
    for flags, metavar, text in GLOBAL_OPTIONS:
        dest = flags[-1].lstrip("-").replace("-", "_")
        if metavar:
            default: Any = None
            group.add_argument(
                *flags, dest=dest, metavar=metavar, default=argparse.SUPPRESS if suppress else default, help=text
            )
        elif dest == "verbose":
            group.add_argument(
                *flags, dest=dest, action="count", default=argparse.SUPPRESS if suppress else 0, help=text
            )
        else:
            group.add_argument(
                *flags, dest=dest, action="store_true", default=argparse.SUPPRESS if suppress else False, help=text
            )


def build_parser(
    argv: list[str], commands: dict[str, tuple[str, str, Any]]
) -> tuple[argparse.ArgumentParser, Any, Any]:
    """(parser, command module, plugin or None) for the command named in `argv`."""
    parser = Parser(
        prog=PROG,
        description="One command for a Python project's whole development loop.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    wanted = command_name(argv)
    if wanted is not None and wanted not in commands:
        from helper import plugins

        clash = plugins.clash(wanted)
        if clash is not None:
            raise HelpError(clash.message, "uninstall one of them, or rename its command")
        broken = [p for p in plugins.problems() if p.name == wanted]
        if broken:
            raise HelpError(f"plugin '{wanted}' {broken[0].message}", f"fix {broken[0].where or 'the plugin'}")
        import difflib

        close = difflib.get_close_matches(wanted, commands, n=1)
        hint = f"did you mean `{PROG} {close[0]}`?" if close else f"see `{PROG} --help` for the commands"
        raise UsageError(f"unknown command {wanted!r}", hint)
    module = plugin = None
    if wanted is not None:  # only the command being run gets a parser: each costs ~1 ms
        module_name, _, plugin = commands[wanted]
        module = importlib.import_module(module_name)
        add_global_options(module.add_parser(sub), suppress=True)
    return parser, module, plugin
