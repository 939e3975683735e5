"""Start the sandbox's launcher as subprocess.Popen would, with os.posix_spawn (subprocess costs start-up time).

The child gets /dev/null on stdin, a pipe each for stdout and stderr, a new
session, the given environment, and no file descriptor besides those and
`pass_fds`: every inheritable descriptor this process holds is closed in the
child, as Popen's close_fds does (a leaked directory descriptor is a way out of
a sandbox). posix_spawn cannot change directory, so a launcher that must start
elsewhere than the current directory goes through subprocess after all.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any


class Child:
    """A started launcher: its pid and the read ends of its stdout and stderr."""

    def __init__(self, pid: int, stdout: int, stderr: int, popen: Any = None) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self._popen = popen  # the subprocess.Popen when one was needed: its returncode is set once reaped

    def reaped(self, status: int) -> None:
        if self._popen is not None:
            self._popen.returncode = status  # reaped by wait4: keep Popen from waiting again

    def close(self) -> None:
        if self._popen is not None:
            self._popen.stdout.close()
            self._popen.stderr.close()
            return
        for fd in (self.stdout, self.stderr):
            try:  # noqa: SIM105 - contextlib is not needed for this
                os.close(fd)
            except OSError:
                pass


def _here(cwd: str) -> bool:
    try:
        here = os.getcwd()  # the kernel's own, resolved path: most often equal as it is
        return here == cwd or os.path.realpath(here) == os.path.realpath(cwd)
    except OSError:
        return False


def executable(name: str, env: dict[str, str]) -> str:
    """The file `name` runs, found as Popen finds it: a path as it is, a bare name on the child's PATH."""
    if os.path.dirname(name):
        return name
    for folder in os.get_exec_path(env):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    import errno

    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


def start(argv: list[str], env: dict[str, str], cwd: str, pass_fds: list[int]) -> Child:
    """Start `argv`; OSError (as Popen raises it) when it cannot be executed."""
    if not _here(cwd):
        return _with_subprocess(argv, env, cwd, pass_fds)
    path = executable(argv[0], env)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    keep = {0, 1, 2, *pass_fds}
    actions: list[tuple[int, ...]] = [
        (os.POSIX_SPAWN_DUP2, null, 0),
        (os.POSIX_SPAWN_DUP2, out_write, 1),
        (os.POSIX_SPAWN_DUP2, err_write, 2),
    ]
    for fd in _open_fds():
        if fd not in keep and fd not in (null, out_write, err_write, out_read, err_read) and _inheritable(fd):
            actions.append((os.POSIX_SPAWN_CLOSE, fd))
    made = [fd for fd in pass_fds if not _inheritable(fd)]
    try:
        for fd in made:
            os.set_inheritable(fd, True)
        pid = os.posix_spawn(path, argv, env, file_actions=actions, setsid=True)
    except BaseException:
        for fd in (out_read, err_read):
            os.close(fd)
        raise
    finally:
        for fd in (out_write, err_write, null):
            os.close(fd)
        for fd in made:
            try:  # noqa: SIM105
                os.set_inheritable(fd, False)
            except OSError:
                pass
    return Child(pid, out_read, err_read)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:
        return False  # not open (the listing's own descriptor, gone by now)


def _with_subprocess(argv: list[str], env: dict[str, str], cwd: str, pass_fds: list[int]) -> Child:
    import subprocess

    child = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stderr is not None
    return Child(child.pid, child.stdout.fileno(), child.stderr.fileno(), child)
