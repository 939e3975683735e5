"""Output rules: colour only on a TTY and never with NO_COLOR; progress only for slow work."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import pytest

from helper.ui import Console
from tests.conftest import HELP, clean_env


def run_in_terminal(args: list[str], cwd, env: dict[str, str]) -> str:
    """Run help.py with a pseudo-terminal as stdout/stderr, as a person at a shell would."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(HELP), *args], cwd=cwd, env=env, stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_colour_on_a_terminal_and_not_with_no_color(make_project) -> None:
    root = make_project()
    env = clean_env()
    env.pop("NO_COLOR")
    env["TERM"] = "xterm"
    assert "\x1b[32m" in run_in_terminal(["doctor"], root, env)
    assert "\x1b[" not in run_in_terminal(["doctor"], root, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_in_terminal(["doctor", "--no-color"], root, env)


def test_json_mode_keeps_stdout_pure_json(make_project) -> None:
    import json

    root = make_project()
    result = subprocess.run(
        [sys.executable, str(HELP), "doctor", "--json", "-v"], cwd=root, env=clean_env(), capture_output=True, text=True
    )
    json.loads(result.stdout)


def test_progress_is_silent_for_quick_work(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console()
    with console.progress("quick", delay=0.5):
        pass
    assert capsys.readouterr().err == ""


def test_progress_prints_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console()
    with console.progress("installing", total=4, delay=0.05) as bar:
        bar.advance(3, note="pytest")
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert err.startswith("installing [") and "3/4" in err and "pytest" in err
    assert "\r" not in err and "\x1b" not in err


def test_quiet_hides_progress(capsys: pytest.CaptureFixture[str]) -> None:
    console = Console()
    console.configure(verbosity=-1)
    with console.progress("slow", delay=0.01):
        time.sleep(0.1)
    assert capsys.readouterr().err == ""
