"""`compose ps` starts the engine's `ps` before the CLI has loaded: that call is most of the command's time.

The project name comes from the last parsed model (.help/compose/model.marshal);
the engine is the first of podman, docker on PATH. The command takes the answer
only when it asks for exactly the same argv (engine, project, format), else the
process is stopped and the command calls the engine itself: a wrong guess costs
nothing but the spare process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess

LABEL = "help.compose.project"  # plugins.compose.engine.LABEL (not imported: it loads the model code)

_started: dict[tuple[str, ...], subprocess.Popen[str]] = {}


def json_format(binary: str) -> str:
    """`--format` for one JSON object a line: docker's CLI before 23 (Debian's 20.10) has only the template."""
    return "{{json .}}" if binary.endswith("docker") else "json"


def ps_argv(binary: str, project: str) -> list[str]:
    return [binary, "ps", "-a", "--filter", f"label={LABEL}={project}", "--format", json_format(binary)]


def start(argv: list[str]) -> None:
    """Called by the CLI with the whole argv for a `compose` command."""
    rest = argv[argv.index("compose") + 1 :] if "compose" in argv else []
    positional = [a for a in rest if not a.startswith("-")]
    if not positional or positional[0] != "ps":
        return
    import marshal

    from helper.replay import project_option
    from helper.root import find_root, state_dir
    from helper.which import which

    root = find_root(project_option(argv) or os.environ.get("HELP_PROJECT") or ".")
    if root is None:
        return
    try:
        with open(os.path.join(state_dir(root), "compose", "model.marshal"), "rb") as handle:
            _, entry = marshal.load(handle)
        name = str(entry["name"])
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return
    binary = which("podman") or which("docker")
    if binary is None:
        return
    command = ps_argv(binary, name)
    _started[tuple(command)] = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    import atexit

    atexit.register(_discard)


def take(command: list[str], timeout: float) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr) of the prefetched `command`, if it was started; anything else is stopped."""
    child = _started.pop(tuple(command), None)
    _discard()
    if child is None:
        return None
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(child)
        return None
    return child.returncode, out, err


def _discard() -> None:
    while _started:
        _stop(_started.popitem()[1])


def _stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, 9)
    child.communicate()
