"""A finished task's score in [0, 1], from what the store recorded and what the user did.

Parts (each 0..1) and weights: tests passing on the integrated branch 0.4,
the reviewer's first verdicts approving 0.2, few retries 0.15, a small diff
0.05, the user 0.2 (applied 1, discarded 0, a rating 1-5 maps to 0..1 and
wins over both, nothing yet 0.5). A task that did not finish done (failed,
cancelled, discarded before done) keeps 30% of that. The score is the
bandit's reward for every prompt variant the task used.
"""

from __future__ import annotations

import json
import time
from typing import Any

from plugins.agent.store import Store

WEIGHTS = {"tests": 0.4, "review": 0.2, "retries": 0.15, "diff": 0.05, "user": 0.2}
SMALL_DIFF = 200  # changed lines up to which a diff counts as small
UNFINISHED = 0.3


def parts(store: Store, task_id: str, diff_lines: int | None, rating: int | None) -> dict[str, float]:
    task = store.task(task_id)
    assert task is not None
    events = store.events(task_id)
    results = store.results(task_id)
    subs = store.subtasks(task_id)
    integration = [r for r in results if r["kind"] in ("integration", "apply-check")]
    tests = 1.0 if integration and integration[-1]["ok"] else 0.0
    # the reviewer's verdict on each sub-task's first review
    first: dict[int, bool] = {}
    for e in events:
        if e["kind"] == "subtask" and e["old"] == "reviewing" and e["subtask_id"] not in first:
            first[e["subtask_id"]] = e["outcome"] == "approved"
    review = sum(first.values()) / len(first) if first else 0.0
    retries = sum(int(s["rounds"]) + int(s["attempts"]) for s in subs)
    retries += sum(1 for e in events if e["outcome"] == "fallback")
    applied = any(e["outcome"] == "applied" for e in events)
    discarded = any(e["outcome"] == "discarded" for e in events)
    user = 1.0 if applied else 0.0 if discarded else 0.5
    if rating is not None:  # the user's own verdict wins
        user = (rating - 1) / 4
    diff = 1.0 if not diff_lines or diff_lines <= SMALL_DIFF else SMALL_DIFF / diff_lines
    return {
        "tests": tests,
        "review": round(review, 3),
        "retries": round(max(0.0, 1.0 - retries / 4), 3),
        "diff": round(diff, 3),
        "user": round(user, 3),
    }


def total(values: dict[str, float], finished: bool) -> float:
    score = sum(WEIGHTS[k] * values[k] for k in WEIGHTS)
    return round(score if finished else score * UNFINISHED, 4)


def finished_ok(store: Store, task_id: str) -> bool:
    """Did the task reach done (whatever the user did with it afterwards)?"""
    return any(e["kind"] == "task" and e["new"] == "done" for e in store.events(task_id))


def changed_lines(diff: str) -> int:
    return sum(1 for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))


def rescore(store: Store, task_id: str, diff_lines: int | None = None, rating: int | None = None) -> dict[str, Any]:
    """Compute and store the task's score; a diff size or rating given is kept for later rescoring."""
    old = score_row(store, task_id) or {}
    diff_lines = diff_lines if diff_lines is not None else old.get("diff_lines")
    rating = rating if rating is not None else old.get("rating")
    values = parts(store, task_id, diff_lines, rating)
    score = total(values, finished_ok(store, task_id))
    with store.lock:
        store.db.execute(
            "INSERT INTO scores (task_id, score, parts, diff_lines, rating, updated) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(task_id) DO UPDATE SET score = excluded.score, parts = excluded.parts,"
            " diff_lines = excluded.diff_lines, rating = excluded.rating, updated = excluded.updated",
            (task_id, score, json.dumps(values), diff_lines, rating, time.time()),
        )
    return {"task_id": task_id, "score": score, "parts": values, "diff_lines": diff_lines, "rating": rating}


def score_row(store: Store, task_id: str) -> dict[str, Any] | None:
    row = store.db.execute("SELECT * FROM scores WHERE task_id = ?", (task_id,)).fetchone()
    if row is None:
        return None
    return {**dict(row), "parts": json.loads(row["parts"])}
