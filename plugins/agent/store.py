"""The agent's state in .help/agent.sqlite: tasks, sub-tasks, messages, tool calls, results, events.

WAL mode, one short transaction per write (a SIGKILL loses at most the step
being worked on), schema versioned by PRAGMA user_version with migrations.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from plugins.agent import machine

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY, prompt TEXT NOT NULL, state TEXT NOT NULL, model TEXT, model_reason TEXT,
        branch TEXT, worktree TEXT, base TEXT, error TEXT, created REAL NOT NULL, updated REAL NOT NULL
    );
    CREATE TABLE subtasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL REFERENCES tasks(id), seq INTEGER NOT NULL,
        title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', files TEXT NOT NULL DEFAULT '[]',
        depends TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        rounds INTEGER NOT NULL DEFAULT 0, feedback TEXT NOT NULL DEFAULT '', error TEXT, updated REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id INTEGER, agent TEXT NOT NULL,
        role TEXT NOT NULL, content TEXT NOT NULL, created REAL NOT NULL
    );
    CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id INTEGER, name TEXT NOT NULL,
        arguments TEXT NOT NULL, ok INTEGER NOT NULL, result TEXT NOT NULL, created REAL NOT NULL
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id INTEGER, kind TEXT NOT NULL,
        ok INTEGER NOT NULL, exit_code INTEGER, output TEXT NOT NULL DEFAULT '', violations TEXT NOT NULL DEFAULT '[]',
        duration REAL NOT NULL DEFAULT 0, created REAL NOT NULL
    );
    CREATE INDEX subtasks_task ON subtasks(task_id, seq);
    CREATE INDEX messages_task ON messages(task_id, subtask_id);
    """,
    # 2: every state change, with the routing condition that caused it (for `agent log`)
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id INTEGER, kind TEXT NOT NULL,
        old TEXT, new TEXT, outcome TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', created REAL NOT NULL
    );
    CREATE INDEX events_task ON events(task_id, id);
    """,
    # 3: learning: every model call (tokens, time, GPU time), the prompt variant each role got and why, scores
    """
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, subtask_id INTEGER, agent TEXT NOT NULL,
        model TEXT NOT NULL, ok INTEGER NOT NULL, tokens INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0,
        gpu_seconds REAL, created REAL NOT NULL
    );
    CREATE TABLE choices (
        task_id TEXT NOT NULL, agent TEXT NOT NULL, variant TEXT NOT NULL, policy TEXT NOT NULL,
        reason TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (task_id, agent)
    );
    CREATE TABLE scores (
        task_id TEXT PRIMARY KEY, score REAL NOT NULL, parts TEXT NOT NULL DEFAULT '{}', diff_lines INTEGER,
        rating INTEGER, updated REAL NOT NULL
    );
    CREATE INDEX calls_task ON calls(task_id, agent);
    """,
    # 4: the task queue (plugins/agent/queue.py's SQLite backend), worker heartbeats, memory, locks
    """
    CREATE TABLE IF NOT EXISTS queue (
        task_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, model TEXT, state TEXT NOT NULL, worker TEXT, token TEXT,
        lease_until REAL, claims INTEGER NOT NULL DEFAULT 0, claimed REAL, enqueued REAL NOT NULL, finished REAL,
        progress TEXT
    );
    CREATE INDEX IF NOT EXISTS queue_state ON queue(state, enqueued);
    CREATE TABLE IF NOT EXISTS claims (
        id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, worker TEXT NOT NULL, claimed REAL NOT NULL,
        outcome TEXT, finished REAL
    );
    CREATE INDEX IF NOT EXISTS claims_task ON claims(task_id);
    CREATE TABLE IF NOT EXISTS workers (name TEXT PRIMARY KEY, info TEXT NOT NULL, seen REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS memory (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, expires REAL NOT NULL)
    """,
]
VERSION = len(MIGRATIONS)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                for number in range(version, VERSION):
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(f"PRAGMA user_version={number + 1}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self.lock:
            cursor = self.db.execute(sql, args)
            return int(cursor.lastrowid or 0)

    # -- tasks ----------------------------------------------------------------
    def new_task(self, prompt: str) -> str:
        task_id = time.strftime("%m%d") + "-" + secrets.token_hex(3)
        now = time.time()
        self._write(
            "INSERT INTO tasks (id, prompt, state, created, updated) VALUES (?, ?, 'new', ?, ?)",
            (task_id, prompt, now, now),
        )
        return task_id

    def task(self, task_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return dict(row) if row else None

    def tasks(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM tasks ORDER BY created DESC")]

    def update_task(self, task_id: str, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._write(f"UPDATE tasks SET {sets}, updated = ? WHERE id = ?", (*fields.values(), time.time(), task_id))

    def move_task(self, task_id: str, outcome: str, note: str = "") -> str:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")  # read and write in one transaction: another process may cancel
            try:
                task = self.task(task_id)
                assert task is not None
                new = machine.advance("task", task["state"], outcome)
                self.db.execute("UPDATE tasks SET state = ?, updated = ? WHERE id = ?", (new, time.time(), task_id))
                self._event(task_id, None, "task", task["state"], new, outcome, note)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return new

    def cancelled(self, task_id: str) -> bool:
        row = self.db.execute("SELECT state FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return bool(row) and row[0] == "cancelled"

    # -- sub-tasks --------------------------------------------------------------
    def add_subtasks(self, task_id: str, plan: list[dict[str, Any]]) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            for seq, item in enumerate(plan):
                self.db.execute(
                    "INSERT INTO subtasks (task_id, seq, title, description, files, depends, state, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (
                        task_id,
                        seq,
                        item["title"],
                        item.get("description", ""),
                        json.dumps(item.get("files", [])),
                        json.dumps(item.get("depends", [])),
                        time.time(),
                    ),
                )
            self.db.execute("COMMIT")

    def subtasks(self, task_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM subtasks WHERE task_id = ? ORDER BY seq", (task_id,))
        out = []
        for row in rows:
            item = dict(row)
            item["files"] = json.loads(item["files"])
            item["depends"] = json.loads(item["depends"])
            out.append(item)
        return out

    def subtask(self, subtask_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM subtasks WHERE id = ?", (subtask_id,)).fetchone()
        item = dict(row)
        item["files"] = json.loads(item["files"])
        item["depends"] = json.loads(item["depends"])
        return item

    def update_subtask(self, subtask_id: int, **fields: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._write(
            f"UPDATE subtasks SET {sets}, updated = ? WHERE id = ?", (*fields.values(), time.time(), subtask_id)
        )

    def move_subtask(self, subtask_id: int, outcome: str, note: str = "", **fields: Any) -> str:
        with self.lock:
            sub = self.subtask(subtask_id)
            new = machine.advance("subtask", sub["state"], outcome)
            self.db.execute("BEGIN IMMEDIATE")
            sets = "".join(f", {k} = ?" for k in fields)
            self.db.execute(
                f"UPDATE subtasks SET state = ?, updated = ?{sets} WHERE id = ?",
                (new, time.time(), *fields.values(), subtask_id),
            )
            self._event(sub["task_id"], subtask_id, "subtask", sub["state"], new, outcome, note)
            self.db.execute("COMMIT")
            return new

    # -- records ----------------------------------------------------------------
    def _event(
        self, task_id: str, subtask_id: int | None, kind: str, old: str | None, new: str | None, outcome: str, note: str
    ) -> None:
        self.db.execute(
            "INSERT INTO events (task_id, subtask_id, kind, old, new, outcome, note, created) VALUES (?,?,?,?,?,?,?,?)",
            (task_id, subtask_id, kind, old, new, outcome, note, time.time()),
        )

    def note(self, task_id: str, subtask_id: int | None, outcome: str, note: str) -> None:
        """An event that changes no state (a model chosen, a fallback, a retry)."""
        with self.lock:
            self._event(task_id, subtask_id, "note", None, None, outcome, note)

    def events(self, task_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM events WHERE task_id = ? ORDER BY id", (task_id,))]

    def add_message(self, task_id: str, subtask_id: int | None, agent: str, message: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO messages (task_id, subtask_id, agent, role, content, created) VALUES (?,?,?,?,?,?)",
            (task_id, subtask_id, agent, message.get("role", ""), json.dumps(message), time.time()),
        )

    def messages(self, task_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM messages WHERE task_id = ? ORDER BY id", (task_id,))
        return [dict(r) for r in rows]

    def add_tool_call(
        self, task_id: str, subtask_id: int | None, name: str, arguments: str, ok: bool, result: str
    ) -> None:
        self._write(
            "INSERT INTO tool_calls (task_id, subtask_id, name, arguments, ok, result, created) VALUES (?,?,?,?,?,?,?)",
            (task_id, subtask_id, name, arguments, int(ok), result, time.time()),
        )

    def tool_calls(self, task_id: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM tool_calls WHERE task_id = ? ORDER BY id", (task_id,))]

    def add_result(
        self,
        task_id: str,
        subtask_id: int | None,
        kind: str,
        ok: bool,
        exit_code: int | None,
        output: str,
        violations: list[str],
        duration: float,
    ) -> None:
        self._write(
            "INSERT INTO results (task_id, subtask_id, kind, ok, exit_code, output, violations, duration, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (
                task_id,
                subtask_id,
                kind,
                int(ok),
                exit_code,
                output[-20000:],
                json.dumps(violations),
                duration,
                time.time(),
            ),
        )

    def results(self, task_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM results WHERE task_id = ? ORDER BY id", (task_id,))
        return [{**dict(r), "violations": json.loads(r["violations"])} for r in rows]
