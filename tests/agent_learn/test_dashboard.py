"""`agent ui` headless with Textual's Pilot: the tasks, the live log, cancel and retry from the screen."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.agent_learn.conftest import PYTHON, GateServer, engine_for
from tests.conftest import ROOT, clean_env

if os.environ.get("CI") != "true":  # in CI textual is installed (.ci/pip.d/agent.txt): missing fails there
    pytest.importorskip("textual", reason="textual is in the dev extra: pip install textual")


def cell(app, task_id: str, column: str) -> str:
    return str(app.query_one("#tasks").get_cell(task_id, column))


async def until(pilot, check, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.1)


def test_the_dashboard_shows_tasks_and_cancels_and_retries_from_the_screen(fast_repo):
    from plugins.agent.dashboard import Dashboard

    with GateServer() as server:
        repo = fast_repo(server.url)
        engine, store = engine_for(repo, server.url, ["coder:1b"])
        server.release()  # the first tasks run straight through
        # one whose static check tries to write outside the worktree: the sandbox stops it, a violation
        escape = [PYTHON, "-c", f"open({str(repo / 'escaped')!r}, 'w')"]
        breaker, _ = engine_for(repo, server.url, ["coder:1b"], review_command=escape)
        violating = breaker.start("make add add, noisily", "given")
        assert breaker.run(violating) == "failed"
        finished = engine.start("make add add", "given")
        assert engine.run(finished) == "done"
        server.gate.clear()
        server.once = True
        working = engine.start("make add add again", "given")
        result: list[str] = []
        worker = threading.Thread(target=lambda: result.append(engine.run(working)))
        worker.start()

        async def drive() -> None:
            app = Dashboard(repo, server.url, "ollama", interval=0.2, client="stdlib")
            async with app.run_test(size=(160, 40)) as pilot:
                await until(pilot, lambda: bool(app.query("#tasks")))
                table = app.query_one("#tasks")
                await until(pilot, lambda: server.held.is_set() and table.row_count == 3)
                await until(pilot, lambda: "coder: fix add" in cell(app, working, "step"))
                assert cell(app, finished, "state") == "done" and cell(app, finished, "score") != "-"
                assert cell(app, working, "state") == "working"
                assert app.selected == working  # the newest task first, selected
                assert "<- coder" in str(app.query_one("#detail").render())
                await until(pilot, lambda: "up, loaded: coder:1b" in str(app.query_one("#system").render()))
                shown = str(app.query_one("#violations").render())
                assert f"violation in {violating}: quality: write outside the worktree denied" in shown
                assert cell(app, violating, "state") == "failed"
                # keyboard: down selects the finished task (its log shown), up comes back
                await pilot.press("j")
                await until(pilot, lambda: app.selected == finished)
                await until(pilot, lambda: any("tests_pass" in line for line in app.query_one("#log").lines))
                await pilot.press("c")  # a done task has nothing to cancel: the screen says so
                assert store.task(finished)["state"] == "done"
                await pilot.press("k")
                await until(pilot, lambda: app.selected == working)
                await pilot.press("c")
                assert cell(app, working, "state") == "cancelled"
                server.release()  # the model answers; the engine sees the mark before its next step
                await until(pilot, lambda: not worker.is_alive())
                assert result == ["cancelled"]
                await until(
                    pilot, lambda: any("[cancelled] from the dashboard" in x for x in app.query_one("#log").lines)
                )
                await pilot.press("r")
                await until(pilot, lambda: cell(app, working, "state") == "done", seconds=90)
                app.retries[working].wait(30)
                assert app.retries[working].returncode == 0

        asyncio.run(drive())
    assert store.task(working)["state"] == "done"


def test_without_textual_agent_ui_is_one_line_and_exit_2_and_the_core_never_imports_it(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    # -S: no site-packages, so no textual; the core is stdlib only and runs as it is
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "help.py"), "agent", "ui"],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "pip install textual" in done.stderr
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['help.py', 'agent', '--help']\n"
        "try:\n"
        f"    runpy.run_path({str(ROOT / 'help.py')!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('textual loaded:', any(m.split('.')[0] == 'textual' for m in sys.modules))\n"
    )
    helped = subprocess.run([sys.executable, "-c", probe], cwd=repo, env=clean_env(), capture_output=True, text=True)
    assert "agent ui" in helped.stdout and "textual loaded: False" in helped.stdout, helped.stdout + helped.stderr
