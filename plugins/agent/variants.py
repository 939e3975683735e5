"""Prompt variants per role: the instructions a role's system message may carry instead of the base ones.

`base` is the text prompts.py writes; every other variant replaces it. The
variant's name is added to the message's marks line (`[variant:NAME]`) so the
log, and a scripted server, see which one a model was given.
"""

from __future__ import annotations

from typing import Any

BASE = "base"

VARIANTS: dict[str, dict[str, str]] = {
    "planner": {
        "small": "You plan a change to a Python project. Make as few sub-tasks as the change needs (one is fine); "
        "each names the files it touches and the titles of the sub-tasks it depends on. Read what you must "
        "first, then call submit_plan once.",
    },
    "coder": {
        "steps": "You change code with tools: read_file, search, write_file, write_patch (paths relative to the "
        "project root). First read every file you will change; then make the smallest change that does the "
        "sub-task, in the project's style; write_patch for edits, write_file for new files. Call finish with a "
        "one-line summary.",
    },
    "reviewer": {
        "checklist": "You review a change against this list: does it do the sub-task, only that, in the project's "
        "style, with no dead code, and do the static checks pass? Call review with approve true, or false and "
        "the points to change.",
    },
    "tester": {
        "edges": "You write pytest tests for the change under tests/ (write_file): one for the normal case and one "
        "for an edge case (empty, zero, error). Then call finish.",
    },
}


def names(role: str) -> list[str]:
    return [BASE, *VARIANTS.get(role, {})]


def apply(messages: list[dict[str, Any]], role: str, variant: str) -> None:
    """Rewrite the system message (messages[0]) in place for `variant`."""
    if not messages or messages[0].get("role") != "system":
        return
    marks, _, text = str(messages[0]["content"]).partition("\n")
    if variant != BASE:
        text = VARIANTS[role][variant]
    messages[0] = {**messages[0], "content": f"{marks} [variant:{variant}]\n{text}"}
