"""Real `help.py agent serve` processes on one queue (SQLite alone, or a real redis-server)."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.agent.fakeserver import Fault
from tests.agent_ops.conftest import db, enqueue, make_repo, wait_for
from tests.conftest import run_help


def finished(repo, redis_url: str | None = None) -> int:
    """Tasks the queue counts finished (done or failed)."""
    if redis_url:
        from plugins.agent.queue_redis import RedisQueue

        queue = RedisQueue(redis_url)
        try:
            counts = queue.counts()
        except OSError:  # the server being restarted
            return -1
        finally:
            queue.close()
        return counts["done"] + counts["failed"]
    with db(repo) as con:
        return int(con.execute("SELECT COUNT(*) FROM queue WHERE state IN ('done', 'failed')").fetchone()[0])


def done_once(repo, ids: list[str]) -> dict[str, list[str]]:
    """Every task done, with exactly one move to done; the claims of each task (worker names)."""
    with db(repo) as con:
        states = {r["id"]: r["state"] for r in con.execute("SELECT id, state FROM tasks")}
        moves = Counter(
            r["task_id"] for r in con.execute("SELECT task_id FROM events WHERE kind = 'task' AND new = 'done'")
        )
        claims: dict[str, list[str]] = {}
        for r in con.execute("SELECT task_id, worker FROM claims ORDER BY id"):
            claims.setdefault(r["task_id"], []).append(r["worker"])
    assert {i: states.get(i) for i in ids} == dict.fromkeys(ids, "done")
    assert {i: moves[i] for i in ids} == dict.fromkeys(ids, 1)
    return claims


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_workers_do_fifty_queued_tasks_each_exactly_once(backend, request, tmp_path, model, workers):
    url = request.getfixturevalue("redis_server").url if backend == "redis" else None
    repo = make_repo(tmp_path / "repo", model.url, **({"redis": url} if url else {}))
    queued = run_help("--json", "agent", "queue", "make add add", cwd=repo)
    assert queued.returncode == 0, queued.stderr
    first = json.loads(queued.stdout)
    assert first["queued"] and first["backend"] == backend
    ids = [first["id"], *enqueue(repo, [f"make add add ({n})" for n in range(49)])]

    one, two = workers(repo), workers(repo)
    wait_for(lambda: finished(repo, url) == 50, 150, "50 tasks finished")
    assert one.stop() == 0 and two.stop() == 0  # SIGTERM: a clean stop

    claims = done_once(repo, ids)
    assert {i: len(c) for i, c in claims.items()} == dict.fromkeys(ids, 1)  # never taken twice
    by_process = Counter(c[0].split("/")[0] for c in claims.values())
    assert len(by_process) == 2, by_process  # both workers took tasks
    planned = [r for r in model.requests if "[role:planner]" in json.dumps(r.get("messages", ""))]
    assert len(planned) == 50  # each task planned once: no task's work was repeated

    status = run_help("--json", "agent", "queue", cwd=repo)
    data = json.loads(status.stdout)
    assert (data["queued"], data["running"], data["done"]) == (0, 0, 50)
    assert data["workers"] == []  # both left the registry when they stopped


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_sigkilled_workers_task_is_taken_over_after_its_lease_expires(backend, request, tmp_path, model, workers):
    url = request.getfixturevalue("redis_server").url if backend == "redis" else None
    repo = make_repo(tmp_path / "repo", model.url, lease=3.0, **({"redis": url} if url else {}))
    model.faults.append(Fault("delay", role="coder", times=1, seconds=60))  # the first coder call hangs
    [task_id] = enqueue(repo, ["make add add"])
    victim = workers(repo)
    wait_for(
        lambda: any("[role:coder]" in json.dumps(r.get("messages", "")) for r in model.requests), 30, "the coder call"
    )
    victim.kill()  # SIGKILL, mid-task: no chance to give the lease back
    killed = time.time()
    heir = workers(repo)
    wait_for(lambda: finished(repo, url) == 1, 60, "the task taken over and finished")
    assert heir.stop() == 0

    claims = done_once(repo, [task_id])[task_id]
    assert len(claims) == 2 and claims[0].startswith(f"{_host()}-{victim.pid}/")
    assert claims[1].startswith(f"{_host()}-{heir.pid}/")
    with db(repo) as con:
        rows = con.execute("SELECT claimed, outcome FROM claims WHERE task_id = ? ORDER BY id", (task_id,)).fetchall()
        notes = [r["note"] for r in con.execute("SELECT note FROM events WHERE outcome = 'takeover'")]
    assert rows[0]["outcome"] is None  # the killed worker never recorded an end
    # the lease (3 s, renewed every 1 s) had to run out first: not taken the moment the worker died
    assert rows[1]["claimed"] - killed >= 1.5, rows[1]["claimed"] - killed
    assert rows[1]["outcome"] == "done" and len(notes) == 1


def test_redis_restarted_mid_run_workers_reconnect_and_nothing_is_lost(tmp_path, redis_server, model, workers):
    repo = make_repo(tmp_path / "repo", model.url, redis=redis_server.url, lease=10.0)
    ids = enqueue(repo, [f"make add add ({n})" for n in range(20)])
    one, two = workers(repo), workers(repo)
    wait_for(lambda: finished(repo, redis_server.url) >= 4, 60, "a few tasks done")
    redis_server.stop()
    time.sleep(1.5)  # the workers find Redis gone meanwhile
    redis_server.start()  # same port, same append-only file
    wait_for(lambda: finished(repo, redis_server.url) == 20, 120, "every task finished after the restart")
    assert one.stop() == 0 and two.stop() == 0

    claims = done_once(repo, ids)
    assert {i: len(c) for i, c in claims.items()} == dict.fromkeys(ids, 1)
    log = (repo / ".help" / "logs" / "agent.log").read_text()
    assert "queue unreachable" in log and "reachable again" in log  # reconnected, with backoff
    status = json.loads(run_help("--json", "agent", "queue", cwd=repo).stdout)
    assert (status["queued"], status["running"], status["done"]) == (0, 0, 20)


def _host() -> str:
    import socket

    return socket.gethostname()


def test_sigterm_mid_task_gives_the_task_back_at_once(tmp_path, model, workers):
    repo = make_repo(tmp_path / "repo", model.url, lease=60.0)  # without the give-back the heir would wait 60 s
    model.faults.append(Fault("delay", role="coder", times=1, seconds=60))
    [task_id] = enqueue(repo, ["make add add"])
    first = workers(repo)
    wait_for(
        lambda: any("[role:coder]" in json.dumps(r.get("messages", "")) for r in model.requests), 30, "the coder call"
    )
    asked = time.monotonic()
    assert first.stop(timeout=30) == 0  # stops though its model call hangs: a bounded grace, then gives back
    assert time.monotonic() - asked < 20
    heir = workers(repo)
    wait_for(lambda: finished(repo) == 1, 30, "the task finished by the next worker")
    assert heir.stop() == 0
    claims = done_once(repo, [task_id])[task_id]
    assert len(claims) == 2
    log = (repo / ".help" / "logs" / "agent.log").read_text()
    assert f"gave task {task_id} back" in log


def test_sigusr1_prints_every_threads_stack_and_the_worker_goes_on(tmp_path, model, workers):
    """What an operator (and this suite, on a worker that will not stop) asks a stuck `agent serve`."""
    import os
    import signal
    from pathlib import Path

    repo = make_repo(tmp_path / "repo", model.url)
    worker = workers(repo)
    log = Path(worker.log.name)
    wait_for(lambda: "serving" in (repo / ".help" / "logs" / "agent.log").read_text(errors="replace")
             if (repo / ".help" / "logs" / "agent.log").exists() else False, 60, "the worker serving")  # fmt: skip
    os.kill(worker.pid, signal.SIGUSR1)
    wait_for(lambda: "Current thread" in log.read_text(errors="replace"), 10, "the stacks in the worker's output")
    text = log.read_text(errors="replace")
    assert text.count("Thread 0x") + text.count("Current thread") >= 3  # the supervisor, workers, heartbeat ...
    assert worker.proc.poll() is None  # still serving
    assert worker.stop() == 0
