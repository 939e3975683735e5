"""Per-role, per-model counters of a task's model calls (calls, tokens, seconds, failures), kept in the journal.

`Metered` wraps a model client: each chat is counted under the role its
system message names ([role:coder]) and the model asked. When the task ends
`record` writes one journal run (command `agent.task`) whose details hold the
counters; `help.py metrics` sums those runs into Prometheus counters.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

ROLE = re.compile(r"\[role:([\w-]+)\]")
COMMAND = "agent.task"


def role_of(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "system":
            found = ROLE.search(str(message.get("content", "")))
            if found:
                return found.group(1)
    return "unknown"


class Metered:
    """A model client that counts what goes through it; every other attribute is the wrapped client's."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, str], dict[str, float]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def chat(self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        ok = False
        reply = None
        try:
            reply = self._client.chat(model, messages, *args, **kwargs)
            ok = True
            return reply
        finally:
            with self._lock:
                slot = self.counters.setdefault(
                    (role_of(messages), model), {"calls": 0, "tokens": 0, "seconds": 0.0, "failures": 0}
                )
                slot["calls"] += 1
                slot["seconds"] += time.monotonic() - started
                if ok:
                    slot["tokens"] += int(getattr(reply, "tokens", 0) or 0)
                else:
                    slot["failures"] += 1

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"role": r, "model": m, **c} for (r, m), c in sorted(self.counters.items())]


def record(
    state_dir: Path, task_id: str, state: str, model: str | None, seconds: float, worker: str, meter: Metered
) -> None:
    """One journal run for a finished (or failed) task, with its per-role counters."""
    from helper import __version__
    from helper.journal import Journal

    journal = Journal(state_dir / "journal.sqlite")
    try:
        run_id = journal.start(COMMAND, ["agent", "task", task_id], __version__)
        journal.finish(
            run_id,
            0 if state == "done" else 1,
            duration=seconds,
            error=None if state == "done" else f"task {state}",
            details={"task": task_id, "state": state, "model": model or "", "worker": worker, "agents": meter.rows()},
        )
    finally:
        journal.close()
