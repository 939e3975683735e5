"""A scripted model plans, patches, reviews and tests a fix; the branch's tests pass; applied only on request."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.conftest import git, make_repo, need_package, run_pytest, tree_hash
from tests.agent.fakeserver import Fault
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
    # agent.client = stdlib (the fixture's pin): no request came from the ollama package
    assert not [r for r in server.requests if str(r.get("user_agent") or "").startswith("ollama-python")]


def test_a_task_through_the_ollama_package_retries_and_finishes(tmp_path, server):
    """agent.client = ollama: the same task, every model call made by the real `ollama` package over httpx."""
    need_package("ollama", "pip install ollama (it is in the dev extra)")
    repo = make_repo(tmp_path / "repo", server.url, client="ollama")
    server.faults += [Fault("die", role="planner"), Fault("garbage", role="coder")]  # retried by the shared Client
    before = tree_hash(repo)

    listed = run_help("agent", "models", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert "(ollama API) through the ollama package" in listed.stdout
    rows = json.loads(run_help("--json", "agent", "models", cwd=repo).stdout)
    assert {r["client"] for r in rows} == {"ollama"} and {r["name"] for r in rows} == {"coder:14b", "coder:1b"}
    doctor = {c["name"]: c for c in json.loads(run_help("--json", "doctor", cwd=repo).stdout)}
    assert doctor["agent client"]["status"] == "ok"
    assert "Ollama API through the ollama package" in doctor["agent client"]["detail"]

    done = run_help("--json", "agent", "make add add its arguments", cwd=repo, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    task = json.loads(done.stdout)
    assert task["state"] == "done" and [s["state"] for s in task["subtasks"]] == ["passed", "passed"]
    assert all(f.times == 0 for f in server.faults)  # both faults were met, and retried past
    calls = [r for r in server.requests if r["path"] == "/api/chat"]
    assert calls and all(str(r["user_agent"]).startswith("ollama-python/") for r in calls)
    assert run_pytest(Path(task["worktree"])).returncode == 0
    assert tree_hash(repo) == before  # the user's tree untouched until apply


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
