"""Retry with exponential backoff and jitter, and a circuit breaker.

Used wherever a flaky thing is called again: network requests (remote cache,
package index), crashing processes (`run`), container health (`compose`).
"""

from __future__ import annotations

import threading
import time

from helper.records import Record

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")


def backoff_delays(attempts: int, base: float = 0.2, cap: float = 10.0, jitter: float = 0.5) -> list[float]:
    """Delays before retries 1..attempts-1: base * 2**n capped, each +-jitter fraction."""
    import random  # only when something is retried: random costs a start-up ~2 ms

    delays = []
    for n in range(max(attempts - 1, 0)):
        delay = min(cap, base * (2**n))
        spread = delay * jitter
        delays.append(max(0.0, delay + random.uniform(-spread, spread)))
    return delays


def retry(
    fn: Callable[[], T],
    *,
    attempts: int = 4,
    base: float = 0.2,
    cap: float = 10.0,
    jitter: float = 0.5,
    retry_on: tuple[type[BaseException], ...] = (OSError,),
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn` until it succeeds or `attempts` are used; re-raise the last error."""
    delays = backoff_delays(attempts, base, cap, jitter)
    for attempt in range(attempts):
        try:
            return fn()
        except retry_on as exc:
            if attempt >= len(delays):
                raise
            if on_retry is not None:
                on_retry(attempt + 1, exc, delays[attempt])
            sleep(delays[attempt])
    raise AssertionError("unreachable")


class CircuitOpen(Exception):
    """Raised instead of calling a function whose circuit is open."""


class CircuitBreaker(Record):
    """closed -> (threshold failures) -> open -> (after reset_after) -> half-open.

    In half-open one trial call is let through: success closes the circuit,
    failure opens it again for another `reset_after` seconds.
    """

    threshold: int = 5
    reset_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_after:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.opened_at is not None or self.failures >= self.threshold:
                self.opened_at = self.clock()

    def call(self, fn: Callable[[], T]) -> T:
        if not self.allow():
            raise CircuitOpen(f"circuit open after {self.failures} failures")
        try:
            value = fn()
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return value
