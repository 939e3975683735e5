"""Process groups, timeouts, graceful stop, retry with backoff, circuit breaker."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helper import proc
from helper.errors import HelpError
from helper.retry import CircuitBreaker, CircuitOpen, backoff_delays, retry

SPAWNS_GRANDCHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(child.pid, flush=True)
    time.sleep(60)
    """
)

IGNORES_TERM = textwrap.dedent(
    """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_run_captures_output_and_exit_code() -> None:
    result = proc.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (3, "out", "err")
    assert not result.ok
    with pytest.raises(HelpError, match="failed with exit code 3"):
        proc.run([sys.executable, "-c", "import sys; sys.exit(3)"], check=True)


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(HelpError, match="program not found"):
        proc.run(["definitely-not-a-program-xyz"])


def test_timeout_kills_the_whole_group_including_grandchildren(tmp_path: Path) -> None:
    script = tmp_path / "tree.py"
    script.write_text(SPAWNS_GRANDCHILD)
    result = proc.run([sys.executable, str(script)], timeout=1.5, grace=1)
    assert result.timed_out
    grandchild = int(result.stdout.split()[0])
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_stop_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(IGNORES_TERM)
    import subprocess

    child = proc.spawn([sys.executable, str(script)], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    started = time.monotonic()
    code = proc.stop(child, grace=0.5)
    took = time.monotonic() - started
    assert code == -signal.SIGKILL
    assert 0.4 < took < 5


def test_stream_delivers_lines_as_they_come() -> None:
    seen: list[str] = []
    result = proc.stream(
        [sys.executable, "-u", "-c", "print('a'); import sys; print('b', file=sys.stderr)"], seen.append
    )
    assert seen == ["a", "b"] and result.ok


def test_backoff_grows_exponentially_within_jitter() -> None:
    delays = backoff_delays(6, base=0.1, cap=1.0, jitter=0.5)
    assert len(delays) == 5
    for n, delay in enumerate(delays):
        nominal = min(1.0, 0.1 * 2**n)
        assert nominal * 0.5 <= delay <= nominal * 1.5


def test_retry_retries_then_succeeds_or_reraises() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    assert retry(flaky, attempts=4, base=0.01, sleep=slept.append) == "up"
    assert len(calls) == 3 and len(slept) == 2
    with pytest.raises(ConnectionError):
        retry(lambda: (_ for _ in ()).throw(ConnectionError("never")), attempts=3, base=0.01, sleep=slept.append)
    with pytest.raises(ValueError):  # not retried: not in retry_on
        retry(lambda: (_ for _ in ()).throw(ValueError("bug")), attempts=3, sleep=slept.append)


def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, reset_after=10, clock=lambda: now[0])

    def boom() -> None:
        raise RuntimeError("crash")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            breaker.call(boom)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "not called")
    now[0] = 11
    assert breaker.state == "half-open"
    with pytest.raises(RuntimeError):  # the trial call fails: open again
        breaker.call(boom)
    assert breaker.state == "open"
    now[0] = 22
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == "closed" and breaker.failures == 0
