"""Limits applied from outside the backend: prlimit for per-process rlimits, pids and memory cgroups as root.

RLIMIT_NPROC is not checked for processes of the host's root user, and a
bubblewrap or firejail sandbox started by root still runs as host uid 0 (in a
user namespace, without capabilities), so as root the process count is capped
by a pids cgroup the launcher joins before it execs the backend: a shell
(`echo $$ > cgroup.procs; exec ...`) rather than a Python preexec_fn. A memory
cgroup (v1), when present, caps the whole tree's memory (RLIMIT_AS caps one
process) and gives the peak of the tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from helper.errors import HelpError
from helper.which import which
from plugins.sandbox.policy import Policy, prlimit_args

PIDS_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
MEMORY_ROOT = Path("/sys/fs/cgroup/memory")  # cgroup v1; the tree's total memory, on top of per-process RLIMIT_AS


def _make(root: Path, control: str) -> Path | None:
    if not (root / "cgroup.procs").exists():
        return None
    path = root / f"help-sandbox-{os.getpid()}-{time.monotonic_ns()}"
    try:
        path.mkdir()
    except OSError:
        return None
    if not (path / control).exists():
        path.rmdir()
        return None
    return path


class PidsCgroup:
    """Fresh cgroups for one run: pids (required) and memory (when the v1 controller is there); `close` removes them."""

    def __init__(self, path: Path, memory: Path | None = None) -> None:
        self.path = path
        self.memory = memory

    @property
    def dirs(self) -> list[Path]:
        return [self.path, *([self.memory] if self.memory else [])]

    @classmethod
    def available(cls) -> bool:
        group = cls.create(1)
        if group is None:
            return False
        group.close()
        return True

    @classmethod
    def create(cls, limit: int, memory: int | None = None) -> PidsCgroup | None:
        for root in PIDS_ROOTS:
            path = _make(root, "pids.max")
            if path is None:
                continue
            (path / "pids.max").write_text(str(limit))
            mem = _make(MEMORY_ROOT, "memory.limit_in_bytes") if memory else None
            if mem is not None:
                try:
                    (mem / "memory.limit_in_bytes").write_text(str(memory))
                    with contextlib.suppress(OSError):  # without swap accounting there is no memsw file
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(memory))
                except OSError:
                    mem.rmdir()
                    mem = None
            return cls(path, mem)
        return None

    def hit(self) -> bool:
        try:
            events = (self.path / "pids.events").read_text()
        except OSError:
            return False
        return any(line.split()[-1] != "0" for line in events.splitlines() if line.startswith("max"))

    def memory_hit(self) -> bool:
        if self.memory is None:
            return False
        try:
            oom = dict(line.split() for line in (self.memory / "memory.oom_control").read_text().splitlines())
            return int(oom.get("oom_kill", "0")) > 0
        except (OSError, ValueError):
            return False

    def peak_memory(self) -> int:
        if self.memory is None:
            return 0
        try:
            return int((self.memory / "memory.max_usage_in_bytes").read_text())
        except (OSError, ValueError):
            return 0

    def kill(self) -> None:
        delay = 0.001  # the sandbox's last processes are usually gone within a millisecond or two
        deadline = time.monotonic() + 1.0
        while True:
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def close(self) -> None:
        self.kill()
        for path in self.dirs:
            delay = 0.001
            deadline = time.monotonic() + 1.0
            while True:
                try:
                    path.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, 0.02)


def wrap(argv: list[str], policy: Policy, cgroup: PidsCgroup | None) -> list[str]:
    """`argv` started under prlimit (and inside `cgroup` first, when given)."""
    prlimit = which("prlimit")
    if not prlimit:
        raise HelpError("prlimit is not installed: the sandbox limits cannot be set", "sudo apt-get install util-linux")
    argv = [prlimit, *prlimit_args(policy), "--", *argv]
    if cgroup is not None:
        joins = " && ".join(f"echo $$ > {_quote(str(d / 'cgroup.procs'))}" for d in cgroup.dirs)
        argv = ["/bin/sh", "-c", joins + ' && exec "$@"', "sh", *argv]
    return argv


def _quote(word: str) -> str:
    """shlex.quote without shlex's import (and its re pattern)."""
    return "'" + word.replace("'", "'\"'\"'") + "'"
