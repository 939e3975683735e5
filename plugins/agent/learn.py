"""The engine's learning hooks: each role's prompt variant chosen by a bandit, every call recorded, scoring.

One variant per task and role (the first time the role speaks in the task),
chosen from the scores of past tasks that used each variant; the choice and
its reason go to the `choices` table and the task's log (`agent log ID`).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from plugins.agent import bandit, scoring, variants, workspace
from plugins.agent.store import Store


class Learner:
    def __init__(self, store: Store, policy: str = "thompson", seed: int | None = None, client: Any = None) -> None:
        self.store = store
        self.policy = policy if policy in bandit.POLICIES else "thompson"
        self.rng = random.Random(seed)
        self.client = client
        self.on_gpu: dict[str, bool | None] = {}

    # -- prompt variants --------------------------------------------------------
    def arms(self, role: str) -> list[bandit.Arm]:
        rows = self.store.db.execute(
            "SELECT c.variant, COUNT(s.score), COALESCE(SUM(s.score), 0) FROM choices c"
            " JOIN scores s ON s.task_id = c.task_id WHERE c.agent = ? GROUP BY c.variant",
            (role,),
        ).fetchall()
        seen = {r[0]: (int(r[1]), float(r[2])) for r in rows}
        return [bandit.Arm(name, *seen.get(name, (0, 0.0))) for name in variants.names(role)]

    def variant(self, task_id: str, role: str) -> str:
        """The task's variant for `role`, choosing (and logging why) the first time."""
        with self.store.lock:
            row = self.store.db.execute(
                "SELECT variant FROM choices WHERE task_id = ? AND agent = ?", (task_id, role)
            ).fetchone()
            if row:
                return str(row[0])
            name, reason = bandit.choose(self.arms(role), self.policy, self.rng)
            self.store.db.execute(
                "INSERT INTO choices (task_id, agent, variant, policy, reason, created) VALUES (?,?,?,?,?,?)",
                (task_id, role, name, self.policy, reason, time.time()),
            )
            self.store.note(task_id, None, "variant", f"{role}: {name} ({reason})")
            return name

    def adapt(self, task_id: str, role: str, messages: list[dict[str, Any]]) -> None:
        variants.apply(messages, role, self.variant(task_id, role))

    # -- calls ----------------------------------------------------------------------
    def call(
        self, task_id: str, sub: int | None, role: str, model: str, ok: bool, tokens: int, seconds: float, busy: float
    ) -> None:
        """One model call; `busy` (the reply's streaming time) counts as GPU-seconds when the model is on a GPU."""
        gpu = busy if ok and busy > 0 and self.gpu(model) else None
        self.store._write(
            "INSERT INTO calls (task_id, subtask_id, agent, model, ok, tokens, seconds, gpu_seconds, created)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (task_id, sub, role, model, int(ok), tokens, seconds, gpu, time.time()),
        )

    def gpu(self, model: str) -> bool | None:
        """Is `model` loaded in GPU memory? From the server's `ps` (Ollama), asked once per model; None: unknown."""
        if model not in self.on_gpu:
            found: bool | None = None
            try:
                for item in self.client.ps() if hasattr(self.client, "ps") else []:
                    if item.get("name") == model or item.get("model") == model:
                        found = int(item.get("size_vram") or 0) > 0
            except Exception:  # the server's memory report is best effort
                found = None
            if found is None:
                return None  # ask again next time (the model may be loading)
            self.on_gpu[model] = found
        return self.on_gpu[model]

    # -- scores -------------------------------------------------------------------
    def finished(self, task_id: str) -> dict[str, Any]:
        task = self.store.task(task_id)
        assert task is not None
        lines = None
        if task.get("worktree") and Path(task["worktree"]).is_dir() and task.get("base"):
            try:
                lines = scoring.changed_lines(workspace.diff(Path(task["worktree"]), task["base"]))
            except Exception:  # a broken worktree leaves the diff size unknown, not the score
                lines = None
        return scoring.rescore(self.store, task_id, diff_lines=lines)
