"""What each role is told: its instructions, the project's context, the sub-task; and reading the plan back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARK = "[role:{role}]"


def context(root: Path) -> str:
    """Layout, conventions and key files, read from the project's files now (the engine caches them)."""
    from helper.fingerprint import list_files
    from plugins.agent.context import build

    return build(root, list_files(root), "").text()


def _system(role: str, text: str, sub: dict[str, Any] | None = None) -> dict[str, str]:
    marks = MARK.format(role=role) + (f" [subtask:{sub['title']}]" if sub else "")
    return {"role": "system", "content": f"{marks}\n{text}"}


def planner(prompt: str, ctx: str) -> list[dict[str, Any]]:
    return [
        _system(
            "planner",
            "You plan a change to a Python project. Split it into small sub-tasks; name for each the files "
            "it touches and the titles of the sub-tasks it depends on. Call submit_plan once.",
        ),
        {"role": "user", "content": f"Project:\n{ctx}\n\nChange: {prompt}"},
    ]


def coder(prompt: str, sub: dict[str, Any], ctx: str) -> list[dict[str, Any]]:
    feedback = f"\n\nFeedback on the previous attempt:\n{sub['feedback']}" if sub.get("feedback") else ""
    return [
        _system(
            "coder",
            "You change code with tools: read_file, search, write_file, write_patch (paths relative to the "
            "project root). Follow the project's style. Call finish when done.",
            sub,
        ),
        {
            "role": "user",
            "content": f"Project:\n{ctx}\n\nTask: {prompt}\nSub-task: {sub['title']}: {sub['description']}\n"
            f"Files: {', '.join(sub['files'])}{feedback}",
        },
    ]


def reviewer(prompt: str, sub: dict[str, Any], change: str, check: Any) -> list[dict[str, Any]]:
    status = "pass" if check.ok else f"fail (exit {check.exit_code})"
    return [
        _system("reviewer", "You review a change. Call review with approve true, or false and what to change.", sub),
        {
            "role": "user",
            "content": f"Task: {prompt}\nSub-task: {sub['title']}\nStatic checks: {status}\n"
            f"{(check.stdout + check.stderr)[-2000:]}\n\nDiff:\n{change[:12000]}",
        },
    ]


def tester(prompt: str, sub: dict[str, Any], ctx: str) -> list[dict[str, Any]]:
    return [
        _system("tester", "You write pytest tests for the change (write_file under tests/), then call finish.", sub),
        {
            "role": "user",
            "content": f"Project:\n{ctx}\n\nTask: {prompt}\nSub-task: {sub['title']}: {sub['description']}",
        },
    ]


def parse_plan(final: list[tuple[str, dict[str, Any]]], content: str, prompt: str) -> list[dict[str, Any]]:
    """The sub-tasks from submit_plan (or a JSON answer); one sub-task for the whole ask when there is none."""
    raw: Any = next((a.get("subtasks") for n, a in final if n == "submit_plan"), None)
    if raw is None:
        try:
            raw = json.loads(content).get("subtasks")
        except (ValueError, AttributeError):
            raw = None
    plan = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and str(item.get("title", "")).strip():
            plan.append(
                {
                    "title": str(item["title"]).strip(),
                    "description": str(item.get("description", "")),
                    "files": [str(f) for f in item.get("files", []) if isinstance(f, str)],
                    "depends": [str(d) for d in item.get("depends", []) if isinstance(d, str)],
                }
            )
    titles = {p["title"] for p in plan}
    for item in plan:  # a dependency on an unknown sub-task, or on itself, is dropped
        item["depends"] = [d for d in item["depends"] if d in titles and d != item["title"]]
    return plan or [{"title": "change", "description": prompt, "files": [], "depends": []}]
