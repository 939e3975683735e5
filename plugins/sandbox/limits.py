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

import os
import time

from helper.errors import HelpError
from helper.which import which
from plugins.sandbox.policy import Policy, prlimit_args

SIGKILL = 9  # signal.SIGKILL (signal.py imports enum: start-up time)

PIDS_ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")
MEMORY_ROOT = "/sys/fs/cgroup/memory"  # cgroup v1; the tree's total memory, on top of per-process RLIMIT_AS


def _make(root: str, control: str) -> str | None:
    if not os.path.exists(os.path.join(root, "cgroup.procs")):
        return None
    path = os.path.join(root, f"help-sandbox-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.mkdir(path)
    except OSError:
        return None
    if not os.path.exists(os.path.join(path, control)):
        os.rmdir(path)
        return None
    return path


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


class PidsCgroup:
    """Fresh cgroups for one run: pids (required) and memory (when the v1 controller is there); `close` removes them."""

    def __init__(self, path: str, memory: str | None = None) -> None:
        self.path = path
        self.memory = memory

    @property
    def dirs(self) -> list[str]:
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
            _write(os.path.join(path, "pids.max"), str(limit))
            mem = _make(MEMORY_ROOT, "memory.limit_in_bytes") if memory else None
            if mem is not None:
                try:
                    _write(os.path.join(mem, "memory.limit_in_bytes"), str(memory))
                    try:  # noqa: SIM105 - without swap accounting there is no memsw file
                        _write(os.path.join(mem, "memory.memsw.limit_in_bytes"), str(memory))
                    except OSError:
                        pass
                except OSError:
                    os.rmdir(mem)
                    mem = None
            return cls(path, mem)
        return None

    def hit(self) -> bool:
        try:
            events = _read(os.path.join(self.path, "pids.events"))
        except OSError:
            return False
        return any(line.split()[-1] != "0" for line in events.splitlines() if line.startswith("max"))

    def memory_hit(self) -> bool:
        if self.memory is None:
            return False
        try:
            oom = dict(line.split() for line in _read(os.path.join(self.memory, "memory.oom_control")).splitlines())
            return int(oom.get("oom_kill", "0")) > 0
        except (OSError, ValueError):
            return False

    def peak_memory(self) -> int:
        if self.memory is None:
            return 0
        try:
            return int(_read(os.path.join(self.memory, "memory.max_usage_in_bytes")))
        except (OSError, ValueError):
            return 0

    def kill(self) -> None:
        delay = 0.001  # the sandbox's last processes are usually gone within a millisecond or two
        deadline = time.monotonic() + 1.0
        while True:
            try:
                pids = [int(p) for p in _read(os.path.join(self.path, "cgroup.procs")).split()]
            except OSError:
                return
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                try:  # noqa: SIM105 - contextlib costs start-up time
                    os.kill(pid, SIGKILL)
                except OSError:
                    pass
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def close(self) -> None:
        self.kill()
        for path in self.dirs:
            delay = 0.001
            deadline = time.monotonic() + 1.0
            while True:
                try:
                    os.rmdir(path)
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
        joins = " && ".join(f"echo $$ > {_quote(os.path.join(d, 'cgroup.procs'))}" for d in cgroup.dirs)
        argv = ["/bin/sh", "-c", joins + ' && exec "$@"', "sh", *argv]
    return argv


def _quote(word: str) -> str:
    """shlex.quote without shlex's import (and its re pattern)."""
    return "'" + word.replace("'", "'\"'\"'") + "'"
