"""The sandbox's Python API for other plugins: `run(command, policy) -> Result`, no shell, streamed output.

from helper.plugins import api
sandbox = api("sandbox")
result = sandbox.run(["python3", "gen.py"], sandbox.Policy(workdir=tmp), on_output=lambda s, line: ...)
"""

from __future__ import annotations

import _signal as signals  # the signal numbers without signal.py's enum (start-up time)
import os
import select
import time

from helper.errors import HelpError
from helper.records import Factory, Record
from plugins.sandbox import backends, limits
from plugins.sandbox.policy import Policy, inside, resolve, sandbox_env

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Policy", "Result", "record", "run"]

CAPTURE = 1024 * 1024  # bytes of stdout / stderr kept in the Result (the rest is streamed only)
UNSAFE = "none"


class Result(Record):
    command: list[str]
    backend: str
    exit_code: int  # 128 + signal number when killed by a signal
    signal: int | None = None
    limit_hit: str | None = None  # "memory" | "procs" | "cpu" | "disk" | "timeout"
    duration: float = 0.0
    peak_memory: int = 0  # bytes: the tree's memory cgroup peak, else the largest resident set from wait4
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    violations: list[str] = Factory(list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "backend": self.backend,
            "exit_code": self.exit_code,
            "signal": signal_name(self.signal) if self.signal else None,
            "limit_hit": self.limit_hit,
            "duration": round(self.duration, 4),
            "peak_memory": self.peak_memory,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "truncated": self.truncated,
            "violations": self.violations,
        }


def signal_name(number: int) -> str:
    """signal.Signals(number).name without signal.py (whose enum costs start-up time): of the names a number has
    (SIGABRT and SIGIOT), the enum keeps the first in (value, name) order; an unknown number raises ValueError too."""
    names = sorted(
        name
        for name, value in vars(signals).items()
        if value == number and name.startswith("SIG") and not name.startswith("SIG_") and name.isupper()
    )
    if not names:
        raise ValueError(f"{number} is not a valid Signals")
    return names[0]


def run(
    command: list[str],
    policy: Policy,
    *,
    backend: str | None = None,
    on_output: Callable[[str, str], None] | None = None,
) -> Result:
    """Run `command` (an argv, never a shell line) under `policy`; HelpError when no backend can enforce it.

    backend: "bwrap" | "firejail" | "podman" | "podman+bwrap" (two layers) | None (the first installed) | "none" (no isolation at all:
    only for `--unsafe-no-sandbox`).
    """
    if not command:
        raise HelpError("no command to run in the sandbox", "give the command as a list of arguments")
    name = UNSAFE if backend == UNSAFE else backends.choose(backend)
    policy = _with_program(policy, command[0])
    launch = backends.Launch(list(command)) if name == UNSAFE else backends.build(name, policy, list(command))
    cgroup = None
    try:
        if launch.rlimits_outside:
            if os.geteuid() == 0:
                cgroup = limits.PidsCgroup.create(policy.procs, memory=policy.mem)
                if cgroup is None and name != UNSAFE:
                    raise HelpError(
                        f"{name} cannot limit processes as root here: no writable pids cgroup",
                        "mount the cgroup pids controller, or use --backend podman",
                    )
            argv = limits.wrap(launch.argv, policy, cgroup)
        else:
            argv = launch.argv
        return _execute(argv, list(command), name, policy, launch, cgroup, on_output)
    finally:
        for fd in launch.pass_fds:
            _close(fd)
        for path in launch.temp_files:
            _unlink(path)
        if cgroup is not None:
            cgroup.close()


def _with_program(policy: Policy, program: str) -> Policy:
    """The policy plus the program asked for, read-only, when it lives outside the system directories.

    A program at PREFIX/bin/NAME brings PREFIX (an interpreter needs its lib/ next to bin/), anything else
    only the file itself: e.g. /root/.pyenv/versions/3.11.7/bin/python3 shows that version, not /root.
    """
    from helper.which import which

    found = which(program) if "/" not in program else program
    if not found or not os.path.exists(found):
        return policy
    real = os.path.realpath(found)
    if any(real.startswith(d + "/") for d in ("/usr", "/bin", "/sbin", "/lib", "/lib64")):
        return policy
    folder = os.path.dirname(real)
    given = os.path.dirname(folder) if os.path.basename(folder) == "bin" and os.path.dirname(folder) != "/" else real
    shown = [policy.workdir, *policy.readonly, *policy.writable]
    links = _hidden_links(found, [*shown, given])
    if any(inside(given, p) for p in shown):
        return policy.replace(links=[*policy.links, *links]) if links else policy
    return policy.replace(readonly=[*policy.readonly, given], links=[*policy.links, *links])


def _hidden_links(program: str, visible: list[str]) -> list[tuple[str, str]]:
    """The symlinks on the way from `program` to its real file that sit outside the visible paths."""
    system = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/")
    links: list[tuple[str, str]] = []
    path = os.path.abspath(program)
    for _ in range(40):  # the kernel's own limit on a symlink chain
        if not os.path.islink(path):
            break
        target = os.readlink(path)
        parent = resolve(os.path.dirname(path))
        shown = path.startswith(system) or any(inside(parent, p) for p in visible)
        if not shown:
            links.append((target, os.path.join(parent, os.path.basename(path))))
        path = os.path.join(parent, target)
    return links


def _close(fd: int) -> None:
    try:  # noqa: SIM105 - contextlib costs start-up time
        os.close(fd)
    except OSError:
        pass


def _unlink(path: str) -> None:
    try:  # noqa: SIM105
        os.unlink(path)
    except OSError:
        pass


def _execute(
    argv: list[str],
    command: list[str],
    name: str,
    policy: Policy,
    launch: backends.Launch,
    cgroup: limits.PidsCgroup | None,
    on_output: Callable[[str, str], None] | None,
) -> Result:
    pass_fds = launch.pass_fds
    started = time.monotonic()
    from plugins.sandbox import spawn

    try:
        child = spawn.start(argv, {**sandbox_env(policy), **launch.env}, policy.workdir, pass_fds)
    except OSError as exc:
        raise HelpError(f"cannot start the sandbox ({name}): {exc}", f"check that {argv[0]} runs") from None
    for fd in pass_fds:
        _close(fd)
    pass_fds.clear()
    out = _Collector(on_output)
    deadline = started + policy.timeout if policy.timeout else None
    status, usage, timed_out = _pump(child, out, deadline, cgroup, launch.stop)
    child.reaped(status)
    duration = time.monotonic() - started
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = 128 + sig if sig else os.WEXITSTATUS(status)
    if sig is None and code > 128 and code - 128 < 65:  # bwrap / firejail / podman report a signal as 128 + n
        sig = code - 128 if name != UNSAFE else None
    result = Result(
        command=command,
        backend=name,
        exit_code=code,
        signal=sig,
        duration=duration,
        peak_memory=max(usage.ru_maxrss * 1024 if usage else 0, cgroup.peak_memory() if cgroup else 0),
        stdout=out.text("stdout"),
        stderr=out.text("stderr"),
        truncated=out.truncated,
    )
    if name == "firejail" and code == 126 and backends.NOT_ISOLATED in result.stderr:
        raise HelpError(
            "firejail did not isolate the command here (it detected an enclosing sandbox or container)",
            "use --backend bwrap or podman",
        )
    result.limit_hit = _limit_hit(result, policy, timed_out, cgroup, usage)
    if result.limit_hit:
        result.violations.append(f"limit: {result.limit_hit}")
    if sig == signals.SIGSYS:
        result.violations.append("seccomp: a denied system call killed the command")
    return result


class _Collector:
    def __init__(self, on_output: Callable[[str, str], None] | None) -> None:
        self.on_output = on_output
        self.kept: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.size = {"stdout": 0, "stderr": 0}
        self.partial = {"stdout": b"", "stderr": b""}
        self.truncated = False

    def feed(self, stream: str, data: bytes) -> None:
        if self.size[stream] < CAPTURE:
            self.kept[stream].append(data[: CAPTURE - self.size[stream]])
        else:
            self.truncated = True
        self.size[stream] += len(data)
        if self.on_output is None:
            return
        lines = (self.partial[stream] + data).split(b"\n")
        self.partial[stream] = lines.pop()
        for line in lines:
            self.on_output(stream, line.decode(errors="replace"))

    def finish(self) -> None:
        for stream, rest in self.partial.items():
            if rest and self.on_output is not None:
                self.on_output(stream, rest.decode(errors="replace"))
            self.partial[stream] = b""

    def text(self, stream: str) -> str:
        return b"".join(self.kept[stream]).decode(errors="replace")


def _pump(
    child: Any,
    out: _Collector,
    deadline: float | None,
    cgroup: limits.PidsCgroup | None,
    stop: list[str] | None,
) -> tuple[int, Any, bool]:
    """Stream output until the child exits (and its pipes drain) or the deadline kills the whole tree."""
    poller = select.poll()  # not selectors: it imports math, and start-up time counts here
    streams = {child.stdout: "stdout", child.stderr: "stderr"}
    for fd in streams:
        poller.register(fd, select.POLLIN)
    status, usage, timed_out, drain_until = None, None, False, None
    while streams:
        now = time.monotonic()
        if status is None and deadline is not None and now >= deadline:
            timed_out = True
            if stop:  # the container lives under the engine, not in our process group
                import subprocess

                subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
            _kill(child.pid, cgroup)
            deadline = None
        if drain_until is not None and now >= drain_until:
            break  # something still holds the pipes after the sandbox ended
        for fd, _ in poller.poll(50):
            data = os.read(fd, 65536)
            if data:
                out.feed(streams[fd], data)
            else:
                poller.unregister(fd)
                del streams[fd]
        if status is None:
            pid, status_now, usage_now = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status, usage, drain_until = status_now, usage_now, time.monotonic() + 1.0
    child.close()
    if status is None:
        _, status, usage = os.wait4(child.pid, 0)
    _kill(child.pid, cgroup)  # anything left in the group or the cgroup
    out.finish()
    return status, usage, timed_out


def _kill(pid: int, cgroup: limits.PidsCgroup | None) -> None:
    try:  # noqa: SIM105
        os.killpg(pid, signals.SIGKILL)
    except OSError:
        pass
    if cgroup is not None:
        cgroup.kill()


MEMORY_WORDS = ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")
DISK_WORDS = ("No space left on device", "File too large", "Disk quota exceeded")
PROCS_WORDS = ("Resource temporarily unavailable", "BlockingIOError", "fork: retry", "Cannot fork")


def _limit_hit(
    result: Result, policy: Policy, timed_out: bool, cgroup: limits.PidsCgroup | None, usage: Any
) -> str | None:
    if timed_out:
        return "timeout"
    # The cgroups saw a limit even when the command itself survived it (a child OOM-killed, a fork refused).
    if cgroup is not None and cgroup.memory_hit():
        return "memory"
    cpu_used = (usage.ru_utime + usage.ru_stime) if usage else 0.0
    if result.signal == signals.SIGXCPU:
        return "cpu"
    # The hard CPU limit's SIGKILL: the CPU time is in the rusage when every level reaped its child; a
    # SIGKILL that is not the memory cgroup's, after at least `cpu` seconds, is that limit too.
    hard_cpu = cpu_used >= policy.cpu - 0.05 or result.duration >= policy.cpu
    if result.signal == signals.SIGKILL and not result.backend.startswith("podman") and hard_cpu:
        return "cpu"
    if result.signal == signals.SIGXFSZ:
        return "disk"
    if cgroup is not None and cgroup.hit():
        return "procs"
    if result.exit_code == 0:
        return None
    if result.backend.startswith("podman") and result.exit_code == 137:  # podman, podman+bwrap
        # SIGKILL from the container's memory cgroup, or the hard CPU limit (only reached after `cpu` seconds)
        return "cpu" if result.duration >= policy.cpu else "memory"
    tail = result.stderr[-4000:]
    for name, words in (("memory", MEMORY_WORDS), ("disk", DISK_WORDS), ("procs", PROCS_WORDS)):
        if any(word in tail for word in words):
            return name
    return None


def record(state_dir: Any, result: Result, argv: list[str], version: str) -> None:
    """Put a sandboxed run with a violation or a limit hit into the journal (.help/journal.sqlite)."""
    from pathlib import Path  # only when there is something to record: the journal takes a Path

    from helper.journal import Journal

    journal = Journal(Path(state_dir) / "journal.sqlite")
    try:
        run_id = journal.start("sandbox", argv, version)
        journal.finish(
            run_id,
            result.exit_code,
            duration=result.duration,
            error="; ".join(result.violations) or None,
            details={"sandbox": {k: v for k, v in result.to_dict().items() if k not in ("stdout", "stderr")}},
        )
    finally:
        journal.close()
