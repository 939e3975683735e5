"""A scripted model plans, patches, reviews and tests a fix; the branch's tests pass; applied only on request."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.conftest import git, run_pytest, tree_hash
from tests.conftest import run_help


def test_agent_fixes_a_failing_test_on_a_branch_and_applies_on_request(repo, server):
    assert run_pytest(repo).returncode == 1  # the fixture's test fails
    before = tree_hash(repo)
    status_before = git(repo, "status", "--porcelain")

    done = run_help("--json", "agent", "make add add its arguments", cwd=repo, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    task = json.loads(done.stdout)
    assert task["state"] == "done"
    assert [s["state"] for s in task["subtasks"]] == ["passed", "passed"]
    assert task["model"] == "coder:1b" and "simple task" in task["model_reason"]  # chosen, with its reason

    # The user's tree is byte-identical: the work is on the task's branch, in its worktree.
    assert tree_hash(repo) == before
    assert git(repo, "status", "--porcelain") == status_before
    worktree = Path(task["worktree"])
    assert worktree.is_relative_to(repo / ".help" / "agent" / "worktrees")
    assert "agent task" in git(repo, "log", "-1", "--format=%s", task["branch"])
    assert run_pytest(worktree).returncode == 0

    diff = run_help("agent", "diff", task["id"], cwd=repo)
    assert "+    return a + b" in diff.stdout and "tests/test_more.py" in diff.stdout
    status = run_help("--json", "agent", "status", task["id"], cwd=repo)
    assert json.loads(status.stdout)["violations"] == []
    log = run_help("agent", "log", task["id"], cwd=repo)
    assert "coding -> reviewing [patched]" in log.stdout and "testing -> passed [tests_pass]" in log.stdout
    assert tree_hash(repo) == before

    applied = run_help("--json", "agent", "apply", task["id"], cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert sorted(json.loads(applied.stdout)["applied"]) == ["NOTES.md", "calc.py", "tests/test_more.py"]
    assert "a + b" in (repo / "calc.py").read_text()
    assert run_pytest(repo).returncode == 0
    again = run_help("agent", "apply", task["id"], cwd=repo)
    assert again.returncode == 1 and "applied, not done" in again.stderr

    gone = run_help("agent", "discard", task["id"], cwd=repo)
    assert gone.returncode == 0 and not worktree.exists()
    assert task["branch"] not in git(repo, "branch")


def test_the_dependency_runs_first_and_tool_calls_go_over_both_protocols(tmp_path, server):
    from tests.agent.conftest import make_engine, make_repo

    repo = make_repo(tmp_path / "repo", server.url, api="openai")
    engine, store = make_engine(repo, server, ["coder:14b"], api="openai")
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done"
    order = [e["subtask_id"] for e in store.events(task_id) if e["outcome"] == "ready"]
    assert order == sorted(order)  # "document add" waited for "fix add"
    assert all(
        r["path"] == "/v1/chat/completions" for r in server.requests if r["path"].startswith(("/v1/c", "/api/c"))
    )
