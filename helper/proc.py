"""Subprocesses: run, stream, time out and stop them as whole process groups.

Every child starts in its own session (process group), so stopping it reaches
its children too: SIGTERM to the group, a grace period, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from helper.errors import HelpError
from helper.records import Record
from helper.which import which as _which

Command = Sequence[str | os.PathLike[str]]


class Result(Record):
    """What a finished command did."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def which(name: str, path: str | None = None) -> str | None:
    return _which(name, path=path)


def require(name: str, hint: str) -> str:
    """The full path of binary `name`, or a HelpError saying how to install it."""
    found = _which(name)
    if not found:
        raise HelpError(f"`{name}` is not installed or not on PATH", hint)
    return found


def _merged_env(env: Mapping[str, str] | None, extra: Mapping[str, str] | None) -> dict[str, str] | None:
    if env is None and extra is None:
        return None
    merged = dict(os.environ if env is None else env)
    merged.update(extra or {})
    return merged


def spawn(
    cmd: Command,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """Start `cmd` in a new process group; a missing program is a HelpError."""
    args = [os.fspath(a) for a in cmd]
    try:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=_merged_env(env, extra_env),
            stdout=stdout,
            stderr=stderr,
            stdin=stdin,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError:
        raise HelpError(
            f"cannot run `{args[0]}`: program not found", f"install {Path(args[0]).name} or put it on PATH"
        ) from None
    except PermissionError:
        raise HelpError(f"cannot run `{args[0]}`: permission denied", f"chmod +x {args[0]}") from None


def stop(proc: subprocess.Popen[str], grace: float = 5.0) -> int:
    """Stop `proc`'s whole process group: SIGTERM, wait `grace` seconds, SIGKILL.

    A second Ctrl-C (or any exception) during the grace period ends it at once: the group
    is killed before the interrupt goes on, so nothing is left behind and nobody waits.
    """
    try:
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
    except BaseException:
        signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=1)
        raise
    finally:
        # The leader may be gone while its group lives on: sweep stragglers.
        signal_group(proc.pid, signal.SIGKILL)
    return proc.returncode


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to process group `pgid`; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def run(
    cmd: Command,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    grace: float = 5.0,
    input_text: str | None = None,
    check: bool = False,
) -> Result:
    """Run `cmd` to completion capturing output; on timeout stop its whole group."""
    started = time.monotonic()
    proc = spawn(
        cmd,
        cwd=cwd,
        env=env,
        extra_env=extra_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
    )
    timed_out = False
    try:
        out, err = proc.communicate(input=input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop(proc, grace)
        out, err = proc.communicate()
    except BaseException:  # Ctrl-C: never leave the child running
        stop(proc, grace)
        raise
    result = Result(
        [os.fspath(a) for a in cmd], proc.returncode, out or "", err or "", time.monotonic() - started, timed_out
    )
    if check and not result.ok:
        raise command_failed(result)
    return result


def stream(
    cmd: Command,
    on_line: Callable[[str], None],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    grace: float = 5.0,
) -> Result:
    """Run `cmd`, calling `on_line` for each line of merged stdout/stderr as it comes."""
    started = time.monotonic()
    proc = spawn(cmd, cwd=cwd, env=env, extra_env=extra_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    timed_out = threading.Event()
    timer = None
    if timeout is not None:

        def expire() -> None:
            timed_out.set()
            stop(proc, grace)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            on_line(line)
        proc.wait()
    except BaseException:
        stop(proc, grace)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    return Result(
        [os.fspath(a) for a in cmd],
        proc.returncode,
        "\n".join(lines),
        "",
        time.monotonic() - started,
        timed_out.is_set(),
    )


def passthrough(
    cmd: Command,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    grace: float = 5.0,
    stdout: int | None = None,
) -> int:
    """Run `cmd` attached to this terminal; Ctrl-C reaches it, then we stop its group.

    `stdout` redirects the child's output (e.g. to stderr so --json keeps stdout pure).
    """
    proc = spawn(cmd, cwd=cwd, env=env, extra_env=extra_env, stdin=None, stdout=stdout)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # The child is in its own group and did not get the terminal's SIGINT.
        signal_group(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            stop(proc, grace)
        raise
    finally:
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                stop(proc, grace)


def command_failed(result: Result) -> HelpError:
    """A HelpError describing a failed command with the tail of its output."""
    name = Path(result.args[0]).name if result.args else "command"
    if result.timed_out:
        return HelpError(f"`{name}` timed out after {result.duration:.0f}s", "raise the timeout or check why it hangs")
    tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
    detail = (": " + " | ".join(tail)) if tail else ""
    return HelpError(
        f"`{' '.join(result.args[:4])}` failed with exit code {result.returncode}{detail}",
        "run it with -v to see its whole output",
    )
