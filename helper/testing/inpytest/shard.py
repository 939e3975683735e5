"""Split tests across N shards balanced by recorded durations.

Longest first onto the currently lightest shard (LPT). Every shard computes the
same assignment from the same inputs, so N runners agree without talking.
This module is stdlib-only and self-contained: the pytest recorder imports it
inside the test environment too.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


def parse(spec: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); ValueError when it is not K/N with 1 <= K <= N."""
    k, _, n = spec.partition("/")
    index, total = int(k), int(n)
    if total < 1 or not 1 <= index <= total:
        raise ValueError(spec)
    return index, total


def assign(
    test_ids: Iterable[str], durations: dict[str, float], total: int, default: float | None = None
) -> dict[str, int]:
    """test id -> shard number (1..total). Unknown durations count as the median known one."""
    ids = sorted(set(test_ids))
    known = sorted(durations[t] for t in ids if t in durations)
    if default is None:
        default = known[len(known) // 2] if known else 1.0
    weighted = sorted(ids, key=lambda t: (-durations.get(t, default), t))
    heap = [(0.0, shard) for shard in range(1, total + 1)]
    result: dict[str, int] = {}
    for test in weighted:
        load, shard = heapq.heappop(heap)
        result[test] = shard
        heapq.heappush(heap, (load + max(durations.get(test, default), 1e-6), shard))
    return result


def loads(assignment: dict[str, int], durations: dict[str, float], total: int) -> list[float]:
    """Summed recorded duration per shard (for reports and tests)."""
    sums = [0.0] * total
    for test, shard in assignment.items():
        sums[shard - 1] += durations.get(test, 0.0)
    return sums
