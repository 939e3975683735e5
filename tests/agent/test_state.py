"""The state machine's table, the SQLite store's migrations, model choice, and the models/pull commands."""

from __future__ import annotations

import json
import sqlite3

import pytest

from plugins.agent import machine, models
from plugins.agent.client import ModelInfo
from plugins.agent.store import MIGRATIONS, VERSION, Store
from tests.agent.conftest import make_repo
from tests.conftest import run_help


def test_every_state_reached_is_known_and_final_states_have_no_way_out_but_the_listed():
    states = {(k, s) for (k, s, _) in machine.TRANSITIONS} | {(k, n) for (k, _, _), n in machine.TRANSITIONS.items()}
    for kind, state in states:
        assert state in machine.FINAL[kind] or any(k == kind and s == state for (k, s, _) in machine.TRANSITIONS)
    assert machine.advance("subtask", "reviewing", "changes_requested") == "coding"
    with pytest.raises(machine.BadTransition) as caught:
        machine.advance("subtask", "reviewing", "tests_pass")
    assert caught.value.hint == "allowed: approved, changes_requested, rounds_exhausted"


def test_an_old_database_is_migrated_and_writes_survive_a_reopen(tmp_path):
    path = tmp_path / "agent.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO tasks (id, prompt, state, created, updated) VALUES ('old', 'x', 'new', 0, 0)")
    db.commit()
    db.close()
    store = Store(path)
    assert store.version() == VERSION == len(MIGRATIONS) >= 2
    assert store.task("old")["state"] == "new"
    store.move_task("old", "planned", "kept")
    store.close()
    again = Store(path)
    assert again.task("old")["state"] == "planned"
    assert [e["outcome"] for e in again.events("old")] == ["planned"]
    with pytest.raises(machine.BadTransition):
        again.move_task("old", "tests_pass")
    assert again.task("old")["state"] == "planned"


def test_model_choice_by_complexity_and_free_memory():
    installed = [ModelInfo("big:70b", 40 * 2**30), ModelInfo("mid:14b", 9 * 2**30), ModelInfo("small:1b", 2**30)]
    chain, reason = models.choose(installed, None, [], "complex", 16 * 2**30, "GPU (nvidia-smi)")
    assert chain == ["mid:14b", "small:1b"] and "largest model that fits 16.0 GiB free GPU" in reason
    chain, reason = models.choose(installed, None, [], "simple", 16 * 2**30, "system memory")
    assert chain[0] == "small:1b" and "smallest" in reason
    assert models.choose(installed, "mine:7b", ["small:1b"], "simple", 0, "")[0] == ["mine:7b", "small:1b"]
    assert models.complexity("fix the typo") == "simple"
    assert models.complexity("refactor the parser and migrate every caller across modules") == "complex"
    free, where = models.free_memory()
    assert free > 0 and where


def test_models_and_pull_commands(tmp_path, server):
    repo = make_repo(tmp_path / "repo", server.url)
    listed = run_help("--json", "agent", "models", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["coder:14b"]["context"] == 8192 and rows["coder:14b"]["family"] == "llama"
    pulled = run_help("agent", "pull", "tiny:0.5b", cwd=repo)
    assert pulled.returncode == 0 and "pulled tiny:0.5b" in pulled.stdout + pulled.stderr
    assert "tiny:0.5b" in server.models
    missing = run_help("agent", "pull", "missing:1b", cwd=repo)
    assert missing.returncode == 1 and "file does not exist" in missing.stderr
