"""The queue's leases on both backends, in one process: one holder at a time, tokens fence a lost lease."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugins.agent.queue import SqliteQueue, TaskQueue


def open_backend(kind: str, tmp_path: Path, redis_url: str | None) -> TaskQueue:
    if kind == "sqlite":
        return SqliteQueue(tmp_path / "agent.sqlite")
    from plugins.agent.queue_redis import RedisQueue

    assert redis_url
    return RedisQueue(redis_url)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    url = request.getfixturevalue("redis_server").url if request.param == "redis" else None
    queues = [open_backend(request.param, tmp_path, url), open_backend(request.param, tmp_path, url)]
    yield queues
    for queue in queues:
        queue.close()


def test_a_leased_task_is_held_once_and_taken_over_only_after_expiry(backend):
    one, two = backend
    one.put("t1", "first", None)
    one.put("t2", "second", "coder:1b")
    a = one.claim("A", lease=0.6)
    b = two.claim("B", lease=0.6)
    assert a and b and {a.task_id, b.task_id} == {"t1", "t2"}  # FIFO, each once
    assert two.claim("B", lease=0.6) is None  # both held
    assert (b if b.task_id == "t2" else a).model == "coder:1b"
    assert one.counts()["running"] == 2

    assert one.renew(a, lease=0.6)
    time.sleep(0.8)  # both leases expire; B's is taken over by A
    assert one.renew(a, lease=0.6) in (True, False)  # an expired lease may still be renewed until taken
    took = one.claim("A", lease=5)
    assert took is not None and took.task_id == b.task_id and took.claims == 2 and took.previous == "B"
    assert not two.renew(b, lease=5)  # B's token is no longer the task's
    assert not two.finish(b, "done", keep=60)
    assert one.finish(took, "done", keep=60)
    assert not one.finish(took, "done", keep=60)  # finished once
    counts = one.counts()
    assert counts["done"] == 1


def test_release_gives_the_task_back_at_once_and_locks_and_memory_expire(backend):
    one, two = backend
    one.put("t1", "first", None)
    claim = one.claim("A", lease=60)
    assert claim is not None and two.claim("B", lease=60) is None
    one.release(claim)
    again = two.claim("B", lease=60)
    assert again is not None and again.task_id == "t1" and again.previous == "A"

    token = one.lock("housekeeping", ttl=0.5)
    assert token and two.lock("housekeeping", ttl=0.5) is None
    time.sleep(0.7)
    other = two.lock("housekeeping", ttl=5)
    assert other
    one.unlock("housekeeping", token)  # a stale token unlocks nothing
    assert one.lock("housekeeping", ttl=5) is None
    two.unlock("housekeeping", other)
    assert one.lock("housekeeping", ttl=5)

    one.remember("context", "files: calc.py", ttl=0.4)
    assert two.recall("context") == "files: calc.py"
    time.sleep(0.6)
    assert two.recall("context") is None

    one.progress("t1", {"step": "coder"})
    assert two.get_progress("t1")["step"] == "coder"
    one.beat("w1", {"pid": 1, "done": 3}, ttl=30)
    assert [w["name"] for w in two.workers()] == ["w1"] and two.workers()[0]["done"] == 3
    one.leave("w1")
    assert two.workers() == []
