"""The agent's task queue: leases that a worker renews by heartbeat, so no task is worked on twice at once.

Two backends with one protocol: SQLite alone (the default: .help/agent.sqlite,
workers on this machine) and Redis (`agent.redis`: workers on any machine).
A claim carries a random token; renewing or finishing with a token that is no
longer the task's (its lease expired and another worker took it) fails, so a
worker that lost its lease learns it and stops. Besides the queue a backend
holds task progress, worker heartbeats, short-lived memory and named locks.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from helper.errors import HelpError


class Unavailable(OSError):
    """The backend cannot be reached right now (retry with backoff)."""


@dataclass
class Claim:
    task_id: str
    prompt: str
    model: str | None
    worker: str
    token: str
    claims: int  # how many times the task was claimed, this one included (>1: taken over)
    previous: str | None = None  # the worker that held it before


class TaskQueue(Protocol):
    backend: str

    def put(self, task_id: str, prompt: str, model: str | None = None) -> None: ...
    def claim(self, worker: str, lease: float) -> Claim | None: ...
    def renew(self, claim: Claim, lease: float) -> bool: ...
    def finish(self, claim: Claim, state: str, keep: float) -> bool: ...
    def release(self, claim: Claim) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def progress(self, task_id: str, fields: dict[str, Any], ttl: float = 86400.0) -> None: ...
    def get_progress(self, task_id: str) -> dict[str, Any]: ...
    def beat(self, worker: str, info: dict[str, Any], ttl: float) -> None: ...
    def leave(self, worker: str) -> None: ...
    def workers(self) -> list[dict[str, Any]]: ...
    def remember(self, key: str, value: str, ttl: float) -> None: ...
    def recall(self, key: str) -> str | None: ...
    def lock(self, name: str, ttl: float) -> str | None: ...
    def unlock(self, name: str, token: str) -> None: ...
    def close(self) -> None: ...


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def open_queue(project: Any) -> TaskQueue:
    """The queue `agent.redis` names, else the SQLite one in .help/agent.sqlite."""
    url = project.get("agent.redis")
    if url:
        from plugins.agent.queue_redis import RedisQueue

        return RedisQueue(str(url))
    project.ensure_state_dir()
    return SqliteQueue(project.state_dir / "agent.sqlite")


def _busy(fn: Any) -> Any:
    """sqlite3.OperationalError (the database locked beyond its busy timeout) becomes Unavailable: retried."""
    import functools

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"agent database busy: {exc}") from exc

    return call


class SqliteQueue:
    """The queue in the agent's SQLite file: BEGIN IMMEDIATE makes claiming atomic across processes."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        from plugins.agent.store import Store

        self.store = Store(path)  # runs the migrations that make the queue's tables
        self.db = self.store.db
        self.lock_ = self.store.lock

    def close(self) -> None:
        self.store.close()

    def _tx(self, fn: Any) -> Any:
        import sqlite3

        with self.lock_:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"agent database busy: {exc}") from exc
            try:
                value = fn()
                self.db.execute("COMMIT")
                return value
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    @_busy
    def put(self, task_id: str, prompt: str, model: str | None = None) -> None:
        self.store._write(
            "INSERT OR IGNORE INTO queue (task_id, prompt, model, state, claims, enqueued) VALUES (?,?,?,?,0,?)",
            (task_id, prompt, model, "queued", time.time()),
        )

    @_busy
    def claim(self, worker: str, lease: float) -> Claim | None:
        def take() -> Claim | None:
            now = time.time()
            row = self.db.execute(
                "SELECT * FROM queue WHERE state = 'queued' OR (state = 'running' AND lease_until < ?)"
                " ORDER BY (state = 'queued'), enqueued LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            token = secrets.token_hex(8)
            self.db.execute(
                "UPDATE queue SET state = 'running', worker = ?, token = ?, lease_until = ?, claims = claims + 1,"
                " claimed = ? WHERE task_id = ?",
                (worker, token, now + lease, now, row["task_id"]),
            )
            return Claim(row["task_id"], row["prompt"], row["model"], worker, token, row["claims"] + 1, row["worker"])

        claim: Claim | None = self._tx(take)
        return claim

    @_busy
    def renew(self, claim: Claim, lease: float) -> bool:
        with self.lock_:
            cursor = self.db.execute(
                "UPDATE queue SET lease_until = ? WHERE task_id = ? AND token = ? AND state = 'running'",
                (time.time() + lease, claim.task_id, claim.token),
            )
            return cursor.rowcount == 1

    @_busy
    def finish(self, claim: Claim, state: str, keep: float) -> bool:
        with self.lock_:
            cursor = self.db.execute(
                "UPDATE queue SET state = ?, finished = ?, lease_until = NULL WHERE task_id = ? AND token = ?"
                " AND state = 'running'",
                (state, time.time(), claim.task_id, claim.token),
            )
            return cursor.rowcount == 1

    @_busy
    def release(self, claim: Claim) -> None:
        """Give the task back at once (a worker stopping): the next worker takes it over."""
        with self.lock_:
            self.db.execute(
                "UPDATE queue SET lease_until = 0 WHERE task_id = ? AND token = ? AND state = 'running'",
                (claim.task_id, claim.token),
            )

    @_busy
    def counts(self) -> dict[str, int]:
        out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        for row in self.db.execute("SELECT state, COUNT(*) FROM queue GROUP BY state"):
            out[row[0]] = int(row[1])
        return out

    @_busy
    def progress(self, task_id: str, fields: dict[str, Any], ttl: float = 86400.0) -> None:
        self.store._write("UPDATE queue SET progress = ? WHERE task_id = ?", (json.dumps(fields), task_id))

    def get_progress(self, task_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT progress FROM queue WHERE task_id = ?", (task_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    @_busy
    def beat(self, worker: str, info: dict[str, Any], ttl: float) -> None:
        self.store._write(
            "INSERT INTO workers (name, info, seen) VALUES (?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET info = excluded.info, seen = excluded.seen",
            (worker, json.dumps(info), time.time()),
        )

    @_busy
    def leave(self, worker: str) -> None:
        self.store._write("DELETE FROM workers WHERE name = ?", (worker,))

    def workers(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT name, info, seen FROM workers ORDER BY name").fetchall()
        return [{**json.loads(r["info"]), "name": r["name"], "seen": r["seen"]} for r in rows]

    @_busy
    def remember(self, key: str, value: str, ttl: float) -> None:
        now = time.time()
        with self.lock_:
            self.db.execute("DELETE FROM memory WHERE expires < ?", (now,))
            self.db.execute(
                "INSERT OR REPLACE INTO memory (key, value, expires) VALUES (?,?,?)", (key, value, now + ttl)
            )

    def recall(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM memory WHERE key = ? AND expires >= ?", (key, time.time())).fetchone()
        return str(row[0]) if row else None

    @_busy
    def lock(self, name: str, ttl: float) -> str | None:
        token = secrets.token_hex(8)

        def take() -> str | None:
            now = time.time()
            self.db.execute("DELETE FROM locks WHERE name = ? AND expires < ?", (name, now))
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO locks (name, token, expires) VALUES (?,?,?)", (name, token, now + ttl)
            )
            return token if cursor.rowcount == 1 else None

        got: str | None = self._tx(take)
        return got

    @_busy
    def unlock(self, name: str, token: str) -> None:
        self.store._write("DELETE FROM locks WHERE name = ? AND token = ?", (name, token))

    def forget(self, task_ids: list[str]) -> None:
        """Drop archived tasks' queue rows (the archive keeps their record)."""
        with self.lock_:
            self.db.executemany("DELETE FROM queue WHERE task_id = ?", [(t,) for t in task_ids])


def missing_redis() -> HelpError:
    return HelpError(
        "agent.redis is set but the redis package is not installed",
        "pip install 'redis>=5' in help.py's environment, or unset agent.redis to use SQLite alone",
    )
