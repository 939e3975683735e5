"""Scores, `agent stats` and its suggestions from real recorded tasks; rate, cancel and retry from the CLI."""

from __future__ import annotations

import json
import threading

import pytest

from plugins.agent import scoring, stats
from tests.agent.fakeserver import FakeModelServer
from tests.agent_learn.conftest import GateServer, engine_for, script
from tests.conftest import run_help


def test_stats_and_suggestions_come_from_the_recorded_tasks(fast_repo):
    with FakeModelServer(script(approve=False)) as server:
        repo = fast_repo(server.url)
        engine, store = engine_for(repo, server.url, ["coder:1b"], max_rounds=1)
        rejected = [engine.run(engine.start(f"make add add ({n})", "given")) for n in range(3)]
        server.script = script(approve=True)
        engine, store = engine_for(repo, server.url, ["coder:14b"], max_rounds=1)
        approved = [engine.run(engine.start(f"make add add ({n})", "given")) for n in range(2)]
    assert rejected == ["failed"] * 3 and approved == ["done"] * 2

    data = stats.collect(store)
    rows = {(r["model"], r["role"]): r for r in data["models"]}
    small, big = rows[("coder:1b", "reviewer")], rows[("coder:14b", "reviewer")]
    assert (small["ok"], small["steps"]) == (0, 6)  # two rejected reviews per task (max_rounds 1)
    assert (big["ok"], big["steps"], big["success_rate"]) == (2, 2, 1.0)
    assert rows[("coder:1b", "coder")]["success_rate"] == 1.0  # the patches were written
    assert rows[("coder:14b", "tester")]["steps"] == 2
    # tokens and time summed from the recorded calls; the fake server reports its models in GPU memory
    calls = store.db.execute("SELECT SUM(tokens), COUNT(*) FROM calls WHERE model = 'coder:1b' AND agent = 'reviewer'")
    tokens, count = calls.fetchone()
    assert small["tokens"] == tokens > 0 and small["calls"] == count == 6
    assert small["seconds"] > 0 and small["gpu_seconds"] is not None
    assert any(
        s.startswith("model coder:1b fails role reviewer 100% of the time (6/6 steps): try coder:14b")
        for s in data["suggestions"]
    ), data["suggestions"]
    assert data["tasks"] == {"failed": 3, "done": 2}

    shown = run_help("--json", "agent", "stats", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["suggestions"] == data["suggestions"]
    human = run_help("agent", "stats", cwd=repo)
    assert "coder:1b" in human.stdout and "suggestion: model coder:1b fails role reviewer" in human.stdout

    # the user's verdict moves the score; a bad rating is a usage error
    done_id = next(t["id"] for t in store.tasks() if t["state"] == "done")
    before = scoring.score_row(store, done_id)["score"]
    rated = run_help("--json", "agent", "rate", done_id, "5", cwd=repo)
    assert rated.returncode == 0, rated.stderr
    after = json.loads(rated.stdout)
    assert after["rating"] == 5 and after["parts"]["user"] == 1.0 and after["score"] > before
    assert run_help("agent", "rate", done_id, "9", cwd=repo).returncode == 2
    applied = run_help("--json", "agent", "apply", done_id, cwd=repo)
    assert applied.returncode == 0, applied.stderr
    row = scoring.score_row(store, done_id)
    assert row["rating"] == 5 and row["parts"]["tests"] == 1.0 and row["diff_lines"] == 2


def test_cancel_stops_a_working_task_and_retry_finishes_it(fast_repo):
    with GateServer() as server:
        repo = fast_repo(server.url)
        engine, store = engine_for(repo, server.url, ["coder:1b"])
        task_id = engine.start("make add add", "given")
        result: list[str] = []
        worker = threading.Thread(target=lambda: result.append(engine.run(task_id)))
        worker.start()
        assert server.held.wait(30)  # the coder's call is in flight
        cancelled = run_help("--json", "agent", "cancel", task_id, cwd=repo)
        assert cancelled.returncode == 0, cancelled.stderr
        server.release()
        worker.join(30)
        assert result == ["cancelled"]
        assert store.task(task_id)["state"] == "cancelled"
        # it stopped before the review: the reviewer was never asked
        assert not any("[role:reviewer]" in str(r.get("messages")) for r in server.requests)
        again = run_help("agent", "cancel", task_id, cwd=repo)
        assert again.returncode == 1 and "nothing to cancel" in again.stderr

        retried = run_help("--json", "agent", "retry", task_id, cwd=repo, timeout=120)
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert json.loads(retried.stdout)["state"] == "done"
        outcomes = [e["outcome"] for e in store.events(task_id) if e["kind"] == "task"]
        assert outcomes[-4:] == ["cancelled", "resumed", "all_passed", "tests_pass"]


def test_a_task_cancelled_before_its_plan_is_retried_from_the_start(tmp_path):
    from helper.errors import HelpError
    from plugins.agent import control
    from plugins.agent.store import Store

    store = Store(tmp_path / "agent.sqlite")
    task_id = store.new_task("anything")
    assert control.cancel(store, task_id) == "cancelled"
    assert scoring.score_row(store, task_id)["score"] == scoring.total(
        {"tests": 0.0, "review": 0.0, "retries": 1.0, "diff": 1.0, "user": 0.5}, finished=False
    )
    assert control.retry(store, task_id) == "new"
    with pytest.raises(HelpError, match="not failed or cancelled"):
        control.retry(store, task_id)
    store.move_task(task_id, "error", "the planner failed")
    assert control.retry(store, task_id) == "new"


def test_stats_on_an_empty_history_says_there_is_nothing_yet(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    shown = run_help("agent", "stats", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "no suggestion yet" in shown.stdout
    data = json.loads(run_help("--json", "agent", "stats", cwd=repo).stdout)
    assert data["models"] == [] and data["suggestions"] == [] and data["scored"]["tasks"] == 0
