"""`help.py monitor --once`: checks recorded in the journal; a change of state alerts and runs --on-alert."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import run_help

ALERT = 'echo "$HELP_ALERT_CHECK $HELP_ALERT_FROM $HELP_ALERT_TO" >> alerts.txt'


def test_a_broken_environment_alerts_once(sample: Path) -> None:
    first = run_help("--json", "monitor", "--once", "--offline", "--on-alert", ALERT, cwd=sample)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {r["check"]: r["status"] for r in report["checks"]} == {"doctor": "ok", "env": "ok", "mcp": "ok"}
    assert report["alerts"] == [] and not (sample / "alerts.txt").exists()
    # a project venv whose interpreter is gone: `env check` fails
    (sample / ".venv" / "bin").mkdir(parents=True)
    (sample / ".venv" / "pyvenv.cfg").write_text("home = /nonexistent/bin\nversion = 3.11.7\n")
    os.symlink("/nonexistent/bin/python", sample / ".venv" / "bin" / "python")
    second = run_help("--json", "monitor", "--once", "--offline", "--on-alert", ALERT, cwd=sample)
    assert second.returncode == 1
    alerts = json.loads(second.stdout)["alerts"]
    assert {"check": "env", "from": "ok", "to": "failed"} in alerts  # (doctor sees it too)
    assert all(a["check"] in ("env", "doctor") for a in alerts)
    assert "alert: env ok -> failed" in second.stderr
    assert "env ok failed" in (sample / "alerts.txt").read_text().splitlines()
    third = run_help("--json", "monitor", "--once", "--offline", "--on-alert", ALERT, cwd=sample)
    assert json.loads(third.stdout)["alerts"] == []  # no change, no alert
    history = json.loads(run_help("--json", "history", "--command", "monitor.env", cwd=sample).stdout)
    assert [row["exit_code"] for row in history] == [1, 1, 0]
