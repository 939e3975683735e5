"""The reviewer sends work back to the coder, within agent.max_rounds; one that always rejects ends the task."""

from __future__ import annotations

import json
from typing import Any

from tests.agent.conftest import make_engine, make_repo, run_pytest
from tests.agent.fakeserver import Turn
from tests.conftest import run_help

PLAN = {"subtasks": [{"title": "fix add", "files": ["calc.py"]}]}
SLOPPY = "def add(a, b):\n    return a + b  # TODO: explain\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def coder(messages: list[dict[str, Any]]) -> Turn:
    """Writes a sloppy fix first; after feedback, the clean one."""
    if any(m["role"] == "tool" for m in messages):
        return Turn("", [("finish", {"summary": "done"})])
    told = "Feedback on the previous attempt" in str(messages[1]["content"])
    return Turn("", [("write_file", {"path": "calc.py", "content": CLEAN if told else SLOPPY})])


def reviewer(messages: list[dict[str, Any]]) -> Turn:
    """Rejects a change with a TODO in it, approves any other."""
    sloppy = "TODO" in str(messages[1]["content"])
    verdict = {"approve": False, "comments": "remove the TODO"} if sloppy else {"approve": True, "comments": ""}
    return Turn("", [("review", verdict)])


def coder_calls(server, fresh: bool) -> list[dict[str, Any]]:
    """The coder's requests; with `fresh`, only those that start a conversation (no tool result yet)."""
    found = [r for r in server.requests if "[role:coder]" in str(r.get("messages", [{}])[0])]
    return [r for r in found if not fresh or not any(m["role"] == "tool" for m in r["messages"])]


def test_the_reviewer_sends_it_back_once_the_coder_fixes_it_and_it_passes(repo, server):
    server.script.update({"planner": [Turn("", [("submit_plan", PLAN)])], "coder:fix add": coder, "reviewer": reviewer})
    engine, store = make_engine(repo, server, ["coder:1b"], max_rounds=2)
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done"

    sub = store.subtasks(task_id)[0]
    assert sub["state"] == "passed" and sub["rounds"] == 1
    moves = [(e["old"], e["new"], e["outcome"]) for e in store.events(task_id) if e["kind"] == "subtask"]
    assert moves == [
        ("pending", "coding", "ready"),
        ("coding", "reviewing", "patched"),
        ("reviewing", "coding", "changes_requested"),  # sent back
        ("coding", "reviewing", "patched"),
        ("reviewing", "testing", "approved"),
        ("testing", "passed", "tests_pass"),
    ]
    second = coder_calls(server, fresh=True)[1]
    assert "remove the TODO" in second["messages"][1]["content"]  # the coder was told why
    worktree = store.task(task_id)["worktree"]
    assert "TODO" not in (repo / worktree / "calc.py").read_text()
    assert run_pytest(repo / worktree).returncode == 0


def test_a_reviewer_that_always_rejects_ends_in_a_failed_task_not_a_loop(tmp_path, server):
    repo = make_repo(tmp_path / "repo", server.url, extra="max_rounds = 1\n")
    never = Turn("", [("review", {"approve": False, "comments": "I do not like it"})])
    server.script.update({"planner": [Turn("", [("submit_plan", PLAN)])], "coder:fix add": coder, "reviewer": [never]})
    done = run_help("--json", "agent", "make add add", cwd=repo, timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    task = json.loads(done.stdout)
    assert task["state"] == "failed" and task["subtasks"][0]["state"] == "failed"
    assert "fix add: the reviewer sent it back 2 time(s) (agent.max_rounds = 1): I do not like it" in task["error"]
    assert len(coder_calls(server, fresh=True)) == 2  # the first try and one round back, no more
    reviews = [r for r in server.requests if "[role:reviewer]" in str(r.get("messages", [{}])[0])]
    assert len(reviews) == 2
    assert not [r for r in server.requests if "[role:tester]" in str(r.get("messages", [{}])[0])]


def test_static_checks_from_help_py_test_quality_send_it_back_until_ruff_is_clean(repo, server):
    def lint_coder(messages: list[dict[str, Any]]) -> Turn:
        if any(m["role"] == "tool" for m in messages):
            return Turn("", [("finish", {"summary": "done"})])
        told = "static checks failed" in str(messages[1]["content"])
        content = CLEAN if told else "import os\n\n\n" + CLEAN  # an unused import: ruff's F401
        return Turn("", [("write_file", {"path": "calc.py", "content": content})])

    approve = Turn("", [("review", {"approve": True, "comments": ""})])  # the model would let it through
    server.script.update({"planner": [Turn("", [("submit_plan", PLAN)])], "coder:fix add": lint_coder})
    server.script["reviewer"] = [approve]
    engine, store = make_engine(repo, server, ["coder:1b"], max_rounds=2)
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done"

    checks = [r for r in store.results(task_id) if r["kind"] == "quality"]
    assert [c["ok"] for c in checks] == [False, True]
    assert "ruff check: calc.py:1:" in checks[0]["output"] and "F401" in checks[0]["output"]
    assert checks[1]["output"].startswith("ruff check: 2 file(s), 0 problem(s); ruff format: 2 file(s), 0 problem(s)")
    outcomes = [e["outcome"] for e in store.events(task_id) if e["kind"] == "subtask"]
    assert outcomes.count("changes_requested") == 1 and outcomes[-1] == "tests_pass"
    second = coder_calls(server, fresh=True)[1]
    assert "F401" in second["messages"][1]["content"]  # the coder was shown ruff's finding
