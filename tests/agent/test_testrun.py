"""The tester runs `help.py test` in the sandbox: environment prepared outside, no sync, state in a fresh folder."""

from __future__ import annotations

import json

from tests.agent.conftest import VENV, make_engine, make_repo
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
