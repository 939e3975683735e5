"""A dying, garbled, slow or out-of-memory server: retry, fall back, or stop clearly; SIGKILL then resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.agent.conftest import make_engine, make_repo, run_pytest, tree_hash
from tests.agent.fakeserver import Fault
from tests.conftest import HELP, clean_env, run_help


def test_broken_streams_and_garbage_are_retried(repo, server):
    server.faults += [Fault("die", role="coder"), Fault("garbage", role="reviewer"), Fault("die", role="planner")]
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done"
    assert engine.client.retries == 3
    assert store.task(task_id)["error"] is None
    assert all(f.times == 0 for f in server.faults)


def test_out_of_memory_falls_back_to_a_smaller_model_and_says_why(repo, server):
    server.faults.append(Fault("oom", model="coder:14b", times=99))
    engine, store = make_engine(repo, server, ["coder:14b", "coder:1b"])
    task_id = engine.start("make add add", "largest that fits")
    assert engine.run(task_id) == "done"
    task = store.task(task_id)
    assert task["model"] == "coder:1b" and "OutOfMemory" in task["model_reason"]
    notes = [e["note"] for e in store.events(task_id) if e["outcome"] == "fallback"]
    assert notes and "coder:14b" in notes[0] and "-> coder:1b" in notes[0]


def test_a_slow_server_stops_the_task_with_a_clear_error(repo, server):
    server.faults.append(Fault("delay", role="planner", seconds=1.5, times=99))
    engine, store = make_engine(repo, server, ["coder:1b"], timeout=0.3)
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "failed"
    assert "gave no answer in 0.3s" in store.task(task_id)["error"]


def test_an_unreachable_server_is_one_clear_line(tmp_path, server):
    repo = make_repo(tmp_path / "repo", "http://127.0.0.1:9")
    done = run_help("agent", "make add add", cwd=repo)
    assert done.returncode == 1
    assert "cannot reach the model server at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigkill_mid_task_then_resume_finishes_with_nothing_lost(repo, server):
    before = tree_hash(repo)
    server.faults.append(Fault("delay", role="tester", seconds=30, times=1))
    agent = subprocess.Popen(
        [sys.executable, str(HELP), "--json", "agent", "make add add"],
        cwd=repo,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    database = repo / ".help" / "agent.sqlite"
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    row = db.execute("SELECT state FROM subtasks WHERE seq = 0").fetchone()
            except sqlite3.OperationalError:  # created, not migrated yet
                row = None
            state = row[0] if row else None
            if state == "testing" and any("[role:tester]" in str(r.get("messages")) for r in server.requests):
                break
        time.sleep(0.1)
    assert state == "testing", agent.communicate(timeout=5)
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()
    with sqlite3.connect(database) as db:
        task_id, task_state = db.execute("SELECT id, state FROM tasks").fetchone()
        events_before = db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert task_state == "working"
    coder_calls = sum("[role:coder]" in str(r.get("messages")) for r in server.requests)

    resumed = run_help("--json", "agent", "resume", task_id, cwd=repo, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    task = json.loads(resumed.stdout)
    assert task["state"] == "done" and [s["state"] for s in task["subtasks"]] == ["passed", "passed"]
    # Done steps were not redone: the first sub-task's coder was not asked again.
    coder_fix = [
        r
        for r in server.requests
        if "[subtask:fix add]" in str(r.get("messages")) and "[role:coder]" in str(r.get("messages"))
    ]
    assert len(coder_fix) == 3
    assert sum("[role:coder]" in str(r.get("messages")) for r in server.requests) >= coder_calls
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] > events_before
        assert db.execute("SELECT count(*) FROM subtasks").fetchone()[0] == 2
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert run_pytest(repo / ".help" / "agent" / "worktrees" / task_id).returncode == 0
    assert tree_hash(repo) == before
