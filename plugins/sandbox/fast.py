"""`sandbox run`'s fast start path (helper.fast): its options read by hand, the same body as the command's.

Only what argparse would read the same way is taken: `run`, then the options of
plugins.sandbox.runner.OPTIONS (`--opt VALUE` or `--opt=VALUE`), then `--` and the
command. Anything else (an abbreviation, an unknown option, a bad value, no `--`,
a bare `python` in a project, which the project's environment resolves) returns None
and the argparse command runs instead, with its own messages.
"""

from __future__ import annotations

from plugins.sandbox.runner import BACKENDS, OPTIONS

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from helper.fast import Start

LONG_RUNNING = True  # as plugins.sandbox.command: on the record while it runs
SPELLINGS = {"--" + name.replace("_", "-"): name for name in OPTIONS}  # --unsafe-no-sandbox -> unsafe_no_sandbox


class Options:
    """The parsed options, as attributes (what argparse's Namespace gives the command)."""

    backend: str | None

    def __init__(self) -> None:
        for name, (kind, default) in OPTIONS.items():
            setattr(self, name, [] if kind == "append" else default)


def parse(rest: list[str]) -> tuple[Options, list[str]] | None:
    """(options, command) from the words after `sandbox`, or None for anything argparse must read."""
    if "--" not in rest:
        return None
    cut = rest.index("--")
    head, command = rest[:cut], rest[cut + 1 :]
    if not head or head[0] != "run" or not command:
        return None
    options = Options()
    index = 1
    while index < len(head):
        word = head[index]
        index += 1
        if not word.startswith("--"):
            return None
        flag, equals, value = word.partition("=")
        name = SPELLINGS.get(flag)
        if name is None:
            return None  # unknown, or an abbreviation argparse would expand
        kind, _ = OPTIONS[name]
        if kind == "flag":
            if equals:
                return None
            setattr(options, name, True)
            continue
        if not equals:
            if index >= len(head) or head[index].startswith("-"):
                return None
            value = head[index]
            index += 1
        if kind == "choice":
            if value not in BACKENDS:
                return None
            options.backend = value
        elif kind == "append":
            getattr(options, name).append(value)
        else:
            try:
                setattr(options, name, kind(value))  # type: ignore[operator]
            except ValueError:
                return None
    return options, command


def run(start: Start) -> int | None:
    parsed = parse(start.rest)
    if parsed is None:
        return None
    options, command = parsed
    if start.found and command[0] in ("python", "python3"):
        return None  # the project's environment stands in for it: the full command finds it
    from plugins.sandbox import runner

    start.begin()
    return runner.execute(options, command, start.root if start.found else None, [], {}, start.state_dir)
