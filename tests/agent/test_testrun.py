"""The tester runs `help.py test` in the sandbox: environment prepared outside, no sync, state in a fresh folder."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.conftest import VENV, git, make_engine, make_repo
from tests.agent.fakeserver import Turn
from tests.conftest import run_help

WRONG = "from calc import add\n\n\ndef test_wrong():\n    assert add(2, 2) == 5, 'two and two'\n"


def test_no_sync_uses_the_environment_as_it_is_and_writes_only_the_state_dir(tmp_path, server):
    repo = make_repo(tmp_path / "repo", server.url)
    state = tmp_path / "state"
    env = {"HELP_STATE_DIR": str(state), "HELP_TEST__PYTHON": str(VENV / "bin" / "python")}
    done = run_help("--json", "test", "--no-sync", "--", "-q", "-p", "no:cacheprovider", cwd=repo, env=env)
    assert done.returncode == 1, done.stderr  # the fixture's test fails: a real run
    summary = json.loads(done.stdout)
    assert [(t["id"], t["outcome"]) for t in summary["tests"]] == [("tests/test_calc.py::test_add", "failed")]
    assert not (repo / ".help").exists()  # every write went to HELP_STATE_DIR
    assert (state / "test-state.json").is_file()

    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "pyproject.toml").write_text('[project]\nname = "bare"\nversion = "0"\n')
    missing = run_help("test", "--no-sync", cwd=tmp_path / "bare", env={"HELP_STATE_DIR": str(tmp_path / "s2")})
    assert missing.returncode == 1 and "syncing is off" in missing.stderr
    assert not (tmp_path / "bare" / ".venv").exists()


def test_the_testers_verdict_is_help_py_tests_summary_and_names_the_failing_test(repo, server):
    server.script["planner"] = [Turn("", [("submit_plan", {"subtasks": [{"title": "fix add"}]})])]
    server.script["tester"] = [Turn("", [("write_file", {"path": "tests/test_wrong.py", "content": WRONG})])]
    engine, store = make_engine(repo, server, ["coder:1b"], max_rounds=0)
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "failed"

    tests = [r for r in store.results(task_id) if r["kind"] == "tests"]
    assert len(tests) == 1 and not tests[0]["ok"] and tests[0]["exit_code"] == 1
    output = tests[0]["output"]
    assert output.startswith("help.py test: 1 failed, 1 passed (exit 1)")  # from its --json summary
    assert "tests/test_wrong.py::test_wrong: failed" in output and "two and two" in output
    assert "tests/test_calc.py::test_add" not in output  # the passing one is not blamed
    sub = store.subtasks(task_id)[0]
    assert sub["state"] == "failed" and "tests/test_wrong.py::test_wrong" in sub["error"]
    assert "agent.max_rounds = 0" in sub["error"]
    assert not list((repo / ".help" / "agent" / "runs").iterdir())  # each run's state folder is removed


def test_without_a_named_environment_the_users_own_is_used_read_only(tmp_path, server):
    """No test.venv: the worktree has no environment, so the user's (prepared outside, never synced here) is used."""
    import subprocess
    import sysconfig

    from tests.agent.conftest import tree_hash

    repo = tmp_path / "repo"
    make_repo(repo, server.url)
    (repo / "pyproject.toml").write_text(
        (repo / "pyproject.toml").read_text().replace(f'venv = "{VENV}"', "sync = false")
    )
    (repo / ".gitignore").write_text("__pycache__/\n.venv/\n")
    git(repo, "commit", "-qam", "the project's own environment")
    subprocess.run([str(VENV / "bin" / "python"), "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():  # pytest and ruff: ours, linked in
        if not (site / entry.name).exists():
            (site / entry.name).symlink_to(entry)
    for tool in ("ruff",):
        (repo / ".venv" / "bin" / tool).symlink_to(VENV / "bin" / tool)
    before = tree_hash(repo)
    engine, store = make_engine(repo, server, ["coder:1b"])
    task_id = engine.start("make add add", "given")
    assert engine.run(task_id) == "done", store.task(task_id)["error"]
    assert all(r["ok"] for r in store.results(task_id) if r["kind"] in ("tests", "integration"))
    worktree = repo / store.task(task_id)["worktree"]
    assert not (worktree / ".venv").exists()  # no second environment was made
    used = {e["note"].split(" with ")[1] for e in store.events(task_id) if e["outcome"] == "environment"}
    assert used == {str(repo / ".venv" / "bin" / "python")}
    assert tree_hash(repo) == before  # the user's environment (inside the tree) untouched too


def test_apply_refuses_when_help_py_test_fails_and_names_the_test(repo, server):
    done = run_help("--json", "agent", "make add add", cwd=repo, timeout=180)
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    (repo / task["worktree"] / "calc.py").write_text("def add(a, b):\n    return a * b\n")  # broken after review
    before = (repo / "calc.py").read_text()
    refused = run_help("agent", "apply", task["id"], cwd=repo, timeout=180)
    assert refused.returncode == 1
    assert "tests fail (tests/test_calc.py::test_add" in refused.stderr and "not applied" in refused.stderr
    assert (repo / "calc.py").read_text() == before
