"""Finished tasks older than `agent.archive_days` leave the database for .help/agent/archive/*.jsonl.gz.

Each archived task (its row, sub-tasks, events, results, tool calls and
messages) becomes one JSON line of a gzip file written atomically; then its
rows are deleted and its worktree removed (a done task keeps its branch, so
its change can still be diffed or merged). The database so stays bounded by
the tasks of the last `archive_days`; freed pages are reused, and the WAL is
truncated after each pass.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

from helper.fsutil import atomic_write
from plugins.agent import workspace
from plugins.agent.store import Store

FINAL = ("done", "failed", "applied", "discarded", "cancelled")
# rows keyed by task_id; `choices` and `scores` (one small row per task and role) stay: they are what the bandit
# learns from, so its history outlives the archive window
TABLES = ("subtasks", "events", "results", "tool_calls", "messages", "calls")
BATCH = 200


def archive_dir(root: Path) -> Path:
    return root / ".help" / "agent" / "archive"


def archive(root: Path, store: Store, days: float, now: float | None = None) -> dict[str, Any]:
    """Archive the finished tasks last changed more than `days` ago; what was done."""
    cutoff = (now or time.time()) - days * 86400
    marks = ",".join("?" * len(FINAL))
    rows = store.db.execute(
        f"SELECT id FROM tasks WHERE state IN ({marks}) AND updated < ? ORDER BY updated LIMIT ?",
        (*FINAL, cutoff, BATCH),
    ).fetchall()
    ids = [str(r[0]) for r in rows]
    if not ids:
        return {"archived": 0, "file": None}
    lines = []
    for task_id in ids:
        record: dict[str, Any] = {"task": store.task(task_id)}
        for table in TABLES:
            record[table] = [dict(r) for r in store.db.execute(f"SELECT * FROM {table} WHERE task_id = ?", (task_id,))]
        lines.append(json.dumps(record, default=str))
    folder = archive_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{ids[0]}.jsonl.gz"
    atomic_write(target, gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6))
    # worktrees first, rows last: stopped in between, the next pass archives the task again (a repeated
    # record) rather than leaving a worktree no row points to
    for line in lines:
        task = json.loads(line)["task"]
        if task.get("worktree"):
            _drop_worktree(root, Path(task["worktree"]), task.get("branch"), keep_branch=task["state"] == "done")
    with store.lock:
        store.db.execute("BEGIN IMMEDIATE")
        try:
            for task_id in ids:
                for table in (*TABLES, "claims", "queue"):
                    store.db.execute(f"DELETE FROM {table} WHERE task_id = ?", (task_id,))
                store.db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
            store.db.execute("COMMIT")
        except BaseException:
            store.db.execute("ROLLBACK")
            raise
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"archived": len(ids), "file": str(target)}


def _drop_worktree(root: Path, worktree: Path, branch: str | None, keep_branch: bool) -> None:
    if worktree.exists():
        workspace.git(root, "worktree", "remove", "--force", str(worktree), check=False)
    workspace.git(root, "worktree", "prune", check=False)
    if branch and not keep_branch:
        workspace.git(root, "branch", "-D", branch, check=False)


def read(root: Path) -> list[dict[str, Any]]:
    """Every archived task record, oldest file first."""
    out = []
    for path in sorted(archive_dir(root).glob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out
