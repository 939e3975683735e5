"""Cancel, retry and rate a task: the one code path behind the CLI's `agent cancel/retry/rate` and the dashboard.

Cancelling marks the task in the store; the process working on it sees the
mark before its next model call or state change and stops there (the step
it was in is dropped, nothing else is lost). Retrying puts a failed or
cancelled task back where it can run again.
"""

from __future__ import annotations

from typing import Any

from helper.errors import HelpError, UsageError
from plugins.agent import machine, scoring
from plugins.agent.store import Store


def _task(store: Store, task_id: str) -> dict[str, Any]:
    task = store.task(task_id)
    if task is None:
        raise HelpError(f"no task {task_id}", "`help.py agent status` lists the tasks")
    return task


def cancel(store: Store, task_id: str, why: str = "by the user") -> str:
    task = _task(store, task_id)
    if machine.is_final("task", task["state"]):
        raise HelpError(f"task {task_id} is {task['state']}: nothing to cancel", "only a task still working stops")
    store.move_task(task_id, "cancelled", why)
    scoring.rescore(store, task_id)
    return "cancelled"


def retry(store: Store, task_id: str) -> str:
    """Make a failed or cancelled task runnable again; its new state."""
    task = _task(store, task_id)
    if task["state"] not in ("failed", "cancelled"):
        raise HelpError(f"task {task_id} is {task['state']}, not failed or cancelled", "only those are retried")
    subs = store.subtasks(task_id)
    if not subs:
        return store.move_task(task_id, "retried", "from the start")
    for sub in subs:
        if sub["state"] == "failed":
            store.move_subtask(sub["id"], "resumed", attempts=0, rounds=0)
    return store.move_task(task_id, "resumed", f"retried from {task['state']}")


def rate(store: Store, task_id: str, rating: str) -> dict[str, Any]:
    _task(store, task_id)
    if rating not in ("1", "2", "3", "4", "5"):
        raise UsageError(f"a rating is 1 to 5, not {rating!r}", f"help.py agent rate {task_id} 4")
    store.note(task_id, None, "rated", rating)
    return scoring.rescore(store, task_id, rating=int(rating))
