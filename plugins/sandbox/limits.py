"""Limits applied from outside the backend: prlimit for per-process rlimits, a pids cgroup as root.

RLIMIT_NPROC is not checked for processes of the host's root user, and a
bubblewrap or firejail sandbox started by root still runs as host uid 0 (in a
user namespace, without capabilities), so as root the process count is capped
by a pids cgroup the launcher joins before it execs the backend: a shell
(`echo $$ > cgroup.procs; exec ...`) rather than a Python preexec_fn.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from helper.errors import HelpError
from plugins.sandbox.policy import Policy, prlimit_args

PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class PidsCgroup:
    """A fresh pids cgroup (v1 controller or v2 with pids.max), removed by `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def available(cls) -> bool:
        group = cls.create(1)
        if group is None:
            return False
        group.close()
        return True

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        for root in PIDS_ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            path = root / f"help-sandbox-{os.getpid()}-{time.monotonic_ns()}"
            try:
                path.mkdir()
            except OSError:
                continue
            if not (path / "pids.max").exists():
                path.rmdir()
                continue
            (path / "pids.max").write_text(str(limit))
            return cls(path)
        return None

    def hit(self) -> bool:
        try:
            events = (self.path / "pids.events").read_text()
        except OSError:
            return False
        return any(line.split()[-1] != "0" for line in events.splitlines() if line.startswith("max"))

    def kill(self) -> None:
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def close(self) -> None:
        self.kill()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)


def wrap(argv: list[str], policy: Policy, cgroup: PidsCgroup | None) -> list[str]:
    """`argv` started under prlimit (and inside `cgroup` first, when given)."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        raise HelpError("prlimit is not installed: the sandbox limits cannot be set", "sudo apt-get install util-linux")
    argv = [prlimit, *prlimit_args(policy), "--", *argv]
    if cgroup is not None:
        argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup.path / "cgroup.procs"), *argv]
    return argv
