"""`agent stats`: per model and role success rates, tokens, time and GPU-seconds, and suggestions from history.

A role's step succeeds when its outcome moves the work forward (the plan
made, the patch written, the review approving, the tests passing) and fails
otherwise; a step is credited to the model of the role's last call before it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from plugins.agent import variants
from plugins.agent.store import Store

# (state the step started in) -> (role, outcomes that count as success)
STEPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "new": ("planner", ("planned",)),
    "coding": ("coder", ("patched",)),
    "reviewing": ("reviewer", ("approved",)),
    "testing": ("tester", ("tests_pass",)),
}
MIN_STEPS = 3  # steps of a model in a role before a suggestion is drawn from them
FAILING = 0.5  # failure rate from which a model is said to fail a role


def collect(store: Store) -> dict[str, Any]:
    db = store.db
    calls = [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY created")]
    by_step: dict[tuple[str, int | None, str], list[tuple[float, str]]] = defaultdict(list)
    for c in calls:
        by_step[(c["task_id"], c["subtask_id"], c["agent"])].append((c["created"], c["model"]))
    models = {t["id"]: t["model"] for t in store.tasks()}

    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(model: str, role: str) -> dict[str, Any]:
        return rows.setdefault(
            (model, role),
            {
                "model": model,
                "role": role,
                "steps": 0,
                "ok": 0,
                "calls": 0,
                "failed_calls": 0,
                "tokens": 0,
                "seconds": 0.0,
                "gpu_seconds": None,
            },
        )

    for c in calls:
        r = row(c["model"], c["agent"])
        r["calls"] += 1
        r["failed_calls"] += 0 if c["ok"] else 1
        r["tokens"] += int(c["tokens"])
        r["seconds"] += float(c["seconds"])
        if c["gpu_seconds"] is not None:
            r["gpu_seconds"] = (r["gpu_seconds"] or 0.0) + float(c["gpu_seconds"])
    for e in db.execute("SELECT * FROM events WHERE kind IN ('task', 'subtask') ORDER BY id"):
        step = STEPS.get(e["old"] or "")
        if step is None or (e["kind"] == "task") != (e["old"] == "new"):
            continue
        role, good = step
        key = (e["task_id"], e["subtask_id"] if e["kind"] == "subtask" else None, role)
        seen = by_step.get(key, [])
        index = bisect.bisect_right([t for t, _ in seen], e["created"]) - 1
        model = seen[index][1] if index >= 0 else (models.get(e["task_id"]) or "-")
        r = row(model, role)
        r["steps"] += 1
        r["ok"] += 1 if e["outcome"] in good else 0
    roles = [role for role, _ in STEPS.values()]
    table = sorted(rows.values(), key=lambda r: (r["model"], roles.index(r["role"]) if r["role"] in roles else 9))
    for r in table:
        r["success_rate"] = round(r["ok"] / r["steps"], 3) if r["steps"] else None
        r["seconds"] = round(r["seconds"], 3)
        if r["gpu_seconds"] is not None:
            r["gpu_seconds"] = round(r["gpu_seconds"], 3)

    arms = []
    for role in ("planner", "coder", "reviewer", "tester"):
        for name in variants.names(role):
            got = db.execute(
                "SELECT COUNT(s.score), AVG(s.score) FROM choices c JOIN scores s ON s.task_id = c.task_id"
                " WHERE c.agent = ? AND c.variant = ?",
                (role, name),
            ).fetchone()
            if got[0]:
                arms.append({"role": role, "variant": name, "tasks": int(got[0]), "mean_score": round(got[1], 3)})
    tasks = [dict(r) for r in db.execute("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state")]
    scored = db.execute("SELECT COUNT(*), AVG(score) FROM scores").fetchone()
    fallbacks: dict[str, int] = defaultdict(int)
    for e in db.execute("SELECT note FROM events WHERE outcome = 'fallback'"):
        fallbacks[str(e["note"]).split(":", 1)[0]] += 1
    violations = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT task_id) FROM events WHERE outcome = 'violation'"
    ).fetchone()
    data = {
        "models": table,
        "variants": arms,
        "tasks": {t["state"]: t["n"] for t in tasks},
        "scored": {"tasks": scored[0], "mean_score": round(scored[1], 3) if scored[1] is not None else None},
        "fallbacks": dict(fallbacks),
        "violations": {"count": violations[0], "tasks": violations[1]},
    }
    data["suggestions"] = suggest(data)
    return data


def suggest(data: dict[str, Any]) -> list[str]:
    out = []
    table = data["models"]
    for r in table:
        if r["steps"] < MIN_STEPS or r["success_rate"] is None or 1 - r["success_rate"] < FAILING:
            continue
        fails = r["steps"] - r["ok"]
        better = [
            o
            for o in table
            if o["role"] == r["role"]
            and o["model"] != r["model"]
            and o["steps"] >= 2
            and (o["success_rate"] or 0) > r["success_rate"]
        ]
        better.sort(key=lambda o: -(o["success_rate"] or 0))
        if better:
            advice = f'try {better[0]["model"]} ({better[0]["success_rate"]:.0%} there): agent.model = "{better[0]["model"]}"'
        else:
            advice = "try a larger model (agent.model), or `agent rate` tasks so the prompt variants learn"
        out.append(
            f"model {r['model']} fails role {r['role']} {1 - r['success_rate']:.0%} of the time "
            f"({fails}/{r['steps']} steps): {advice}"
        )
    by_role: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for arm in data["variants"]:
        by_role[arm["role"]].append(arm)
    for role, arms in by_role.items():
        tried = [a for a in arms if a["tasks"] >= MIN_STEPS]
        if len(tried) < 2:
            continue
        best = max(tried, key=lambda a: a["mean_score"])
        worst = min(tried, key=lambda a: a["mean_score"])
        if best["mean_score"] - worst["mean_score"] >= 0.2:
            out.append(
                f"prompt variant '{best['variant']}' of the {role} scores {best['mean_score']:.2f} against "
                f"'{worst['variant']}' {worst['mean_score']:.2f} ({best['tasks']} and {worst['tasks']} tasks): "
                "the bandit now mostly chooses it"
            )
    for model, n in sorted(data["fallbacks"].items()):
        if n >= 2:
            out.append(
                f"{model} ran out of memory or time {n} times: put a smaller model first (agent.model) "
                "or raise agent.timeout"
            )
    if data["violations"]["count"]:
        v = data["violations"]
        out.append(
            f"{v['count']} sandbox violation(s) in {v['tasks']} task(s): `help.py agent log ID` shows what was "
            "stopped (model-written code reaching outside the worktree)"
        )
    states = data["tasks"]
    finished = states.get("done", 0) + states.get("applied", 0) + states.get("discarded", 0)
    if finished >= MIN_STEPS and states.get("discarded", 0) * 2 >= finished:
        out.append(
            f"{states.get('discarded', 0)} of {finished} finished tasks were discarded: "
            "`help.py agent rate ID 1-5` tells the prompt variants what you want"
        )
    return out
