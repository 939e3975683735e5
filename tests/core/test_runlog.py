"""The journal's cheap path: a run's record is one whole file until a reader moves it into SQLite."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

from helper import runlog
from helper.journal import Journal
from tests.conftest import run_help


def test_a_run_leaves_one_record_file_that_the_next_reader_moves_in(make_project) -> None:
    root = make_project()
    assert run_help("cache", "gc", "--max-size", "password=hunter2", cwd=root).returncode == 2
    pending = root / ".help" / runlog.PENDING_DIR
    (record,) = os.listdir(pending)
    assert record.endswith(runlog.END) and not (root / ".help" / "journal.sqlite").exists()
    stored = runlog.read(str(pending / record))
    assert stored is not None and stored["argv"] == ["cache", "gc", "--max-size", "password=****"], "masked on disk"
    runs = json.loads(run_help("history", "--json", cwd=root).stdout)
    assert runs[0]["command"] == "cache" and runs[0]["exit_code"] == 2 and runs[0]["error"]
    assert runs[0]["argv"] == ["cache", "gc", "--max-size", "password=****"]
    assert not os.listdir(pending), "moved, not copied (history itself writes straight into SQLite)"


def test_a_long_run_is_listed_while_it_runs_and_kept_as_killed(tmp_path: Path) -> None:
    state = tmp_path / ".help"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        key = f"{time.time_ns()}-{sleeper.pid}"
        entry = {"started": time.time(), "command": "run", "argv": ["run"], "version": "t"}
        runlog.record(str(state), key, **entry)
        # The start file carries this process's pid: make it the sleeper's, as if it had written it.
        path = state / runlog.PENDING_DIR / (key + runlog.START)
        stored = runlog.read(str(path))
        assert stored is not None
        path.write_bytes(marshal.dumps((runlog.FORMAT, {**stored, "pid": sleeper.pid})))
        (state / runlog.PENDING_DIR / ".torn.tmp").write_bytes(b"\xe3half a rec")  # a writer killed mid-write
        journal = Journal(state / "journal.sqlite")
        (running,) = journal.runs()
        assert running["id"] is None and running["exit_code"] is None and running["command"] == "run"
        assert journal.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        journal.close()
    finally:
        sleeper.kill()
        sleeper.wait()
    journal = Journal(state / "journal.sqlite")
    rows = journal.runs()
    assert [(r["command"], r["exit_code"]) for r in rows] == [("run", None)] and rows[0]["id"] is not None
    journal.close()
    assert os.listdir(state / runlog.PENDING_DIR) == [".torn.tmp"], "the torn temp file is never read as a record"


def test_an_end_replaces_the_start_and_is_taken_once(tmp_path: Path) -> None:
    state = str(tmp_path)
    fields = {"started": time.time(), "command": "test", "argv": ["test"], "version": "t"}
    runlog.record(state, "k1", **fields)
    runlog.record(state, "k1", **fields, exit_code=0, duration=0.5)
    assert os.listdir(tmp_path / runlog.PENDING_DIR) == ["k1" + runlog.END]
    first = Journal(tmp_path / "journal.sqlite")
    second = Journal(tmp_path / "journal.sqlite")
    assert [(r["exit_code"], r["duration"]) for r in second.runs()] == [(0, 0.5)]
    first.close()
    second.close()
