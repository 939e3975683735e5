"""`compose ps` starts the engine's `ps` before the CLI has loaded: that call is most of the command's time.

The project name comes from the last parsed model (.help/compose/model.marshal);
the engine is the first of podman, docker on PATH. The command takes the answer
only when it asks for exactly the same argv (engine, project, format), else the
process is stopped and the command calls the engine itself: a wrong guess costs
nothing but the spare process. The process is started with os.posix_spawn (subprocess costs
start-up time), by the full CLI and by the fast start path (helper.fast) alike; starting the
same call twice is a no-op.
"""

from __future__ import annotations

import os
import time

LABEL = "help.compose.project"  # plugins.compose.engine.LABEL (not imported: it loads the model code)

_started: dict[tuple[str, ...], tuple[int, int, int]] = {}  # argv -> (pid, stdout fd, stderr fd)


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
    if tuple(command) in _started:
        return
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out_write, 1), (os.POSIX_SPAWN_DUP2, err_write, 2)]
    try:
        pid = os.posix_spawn(command[0], command, dict(os.environ), file_actions=actions, setsid=True)
    except OSError:
        os.close(out_read)
        os.close(err_read)
        return
    finally:
        for fd in (out_write, err_write, null):
            os.close(fd)
    _started[tuple(command)] = (pid, out_read, err_read)
    import atexit

    atexit.register(_discard)


def take(command: list[str], timeout: float) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr) of the prefetched `command`, if it was started; anything else is stopped."""
    child = _started.pop(tuple(command), None)
    _discard()
    if child is None:
        return None
    import select

    pid, out_fd, err_fd = child
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    waiting = set(chunks)
    deadline = time.monotonic() + timeout
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            _stop(child)
            return None
        for fd, _ in poller.poll(left * 1000):
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                waiting.discard(fd)
    _, status = os.waitpid(pid, 0)
    for fd in chunks:
        os.close(fd)
    out, err = (b"".join(chunks[fd]).decode(errors="replace") for fd in (out_fd, err_fd))
    return os.waitstatus_to_exitcode(status), out, err


def _discard() -> None:
    while _started:
        _stop(_started.popitem()[1])


def _stop(child: tuple[int, int, int]) -> None:
    pid, out_fd, err_fd = child
    try:  # noqa: SIM105
        os.killpg(pid, 9)
    except OSError:
        pass
    try:  # noqa: SIM105
        os.waitpid(pid, 0)
    except OSError:
        pass
    for fd in (out_fd, err_fd):
        try:  # noqa: SIM105
            os.close(fd)
        except OSError:
            pass
