"""The journal: every help.py invocation recorded in .help/journal.sqlite.

SQLite in WAL mode with a busy timeout, so concurrent invocations append
safely. A run is inserted when it starts (exit_code NULL = still running or
killed) and completed when it ends. Arguments are stored with secrets masked.
The CLI's own record of a run takes the cheap path (helper.runlog: one small
file, renamed into .help/journal.pending/), which opening the journal moves
into the table; runs still at work are listed from their start files.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from helper.fsutil import FileLock
from helper.runlog import mask_argv

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    duration REAL,
    command TEXT NOT NULL,
    argv TEXT NOT NULL,
    cwd TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    cache_misses INTEGER NOT NULL DEFAULT 0,
    details TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
"""

# Arguments are stored NUL-separated rather than as JSON: the journal is written
# on every run, and json's import is a noticeable share of a quick command.
ARG_SEPARATOR = "\0"


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value)


def _loads(text: str) -> Any:
    import json

    return json.loads(text)


def recorded(state_dir: Path) -> bool:
    """Whether any run was recorded under `state_dir`: in the SQLite file, or still as pending small files."""
    from helper.replay import PENDING_DIR

    return (state_dir / "journal.sqlite").exists() or (state_dir / PENDING_DIR).is_dir()


class Journal:
    def __init__(self, path: Path, keep: int = 5000) -> None:
        self.path = path
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA busy_timeout = 30000")
        self.db.execute("PRAGMA synchronous = NORMAL")
        # Switching to WAL fails at once ("database is locked", no busy wait) while
        # another process is creating the file, so first-time setup is serialised.
        with FileLock(path.with_name(path.name + ".lock"), timeout=30):
            if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode and mode[0].lower() != "wal":  # e.g. a file system without shared memory
                    self.db.execute("PRAGMA journal_mode = DELETE")
            self.db.executescript(SCHEMA)
            self._take_pending()  # under the lock: each pending record is taken by one reader

    def _take_pending(self) -> None:
        """Move the runs that wrote small files instead (helper.runlog, and replayed answers) into the table."""
        from helper import runlog
        from helper.replay import read_pending

        state = str(self.path.parent)
        rows = read_pending(state)
        if rows:
            self.db.executemany(
                "INSERT INTO runs (started, duration, command, exit_code, cwd, pid, version, argv, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{\"replayed\": true}')",
                [(*row[:7], ARG_SEPARATOR.join(mask_argv(row[7]))) for row in rows],
            )
        records = sorted(runlog.take(state), key=lambda r: r["started"])
        if records:
            self.db.executemany(
                "INSERT INTO runs (started, duration, command, argv, cwd, pid, version, exit_code, error,"
                " cache_hits, cache_misses, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        *(r[f] for f in runlog.FIELDS[:3]),
                        ARG_SEPARATOR.join(mask_argv(r["argv"])),
                        *(r[f] for f in runlog.FIELDS[4:]),
                    )
                    for r in records
                ],
            )
            last = self.db.execute("SELECT MAX(id) FROM runs").fetchone()[0] or 0
            self.db.execute("DELETE FROM runs WHERE id <= ?", (last - self.keep,))

    def start(self, command: str, argv: list[str], version: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (started, command, argv, cwd, pid, version) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), command, ARG_SEPARATOR.join(mask_argv(argv)), os.getcwd(), os.getpid(), version),
        )
        return int(cur.lastrowid or 0)

    def finish(
        self,
        run_id: int,
        exit_code: int,
        *,
        duration: float,
        error: str | None = None,
        cache_hits: int = 0,
        cache_misses: int = 0,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE runs SET duration=?, exit_code=?, error=?, cache_hits=?, cache_misses=?, details=? WHERE id=?",
            (duration, exit_code, error, cache_hits, cache_misses, _dumps(details) if details else None, run_id),
        )
        if run_id % 100 == 0:
            self.db.execute("DELETE FROM runs WHERE id <= ?", (run_id - self.keep,))

    def runs(self, *, failed: bool = False, command: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        where, params = [], []
        if failed:
            where.append("(exit_code IS NULL OR exit_code != 0)")
        if command:
            where.append("command = ?")
            params.append(command)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
        self.db.row_factory = sqlite3.Row
        from helper import runlog

        live = [  # long-running commands still at work: their end is not written yet
            {"id": None, **r, "argv": ARG_SEPARATOR.join(mask_argv(r["argv"]))}
            for r in sorted(runlog.running(str(self.path.parent)), key=lambda r: -r["started"])
            if not command or r["command"] == command
        ]
        rows = [*live, *(dict(row) for row in self.db.execute(sql, (*params, limit)))][:limit]
        for row in rows:
            row["argv"] = row["argv"].split(ARG_SEPARATOR) if row["argv"] else []
            row["details"] = _loads(row["details"]) if row["details"] else None
        return rows

    def check(self) -> str:
        return str(self.db.execute("PRAGMA quick_check").fetchone()[0])

    def close(self) -> None:
        self.db.close()
