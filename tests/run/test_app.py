"""`help.py run` on a real FastAPI + uvicorn + alembic + SQLite app (tests/fixtures/run_app)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from tests.conftest import run_help
from tests.run.conftest import alive, free_port, wait_http


def test_run_migrates_serves_200_and_sigint_leaves_no_process(sample_app: Path, running) -> None:
    port = free_port()
    run = running(sample_app, env={"PORT": str(port)})
    body = wait_http(f"http://127.0.0.1:{port}/")
    # The notes table and its row exist only if `alembic upgrade head` ran first.
    assert body["notes"] == 1 and body["message"] == "hello"
    assert body["secret_set"] is True  # SECRET_KEY reached the app from the generated .env
    with sqlite3.connect(sample_app / "data" / "app.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    env_file = sample_app / ".env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    secret = next(line.split("=", 1)[1] for line in env_file.read_text().splitlines() if line.startswith("SECRET_KEY="))
    assert len(secret) >= 40

    pids = run.pids()
    assert body["pid"] in pids  # the uvicorn worker is in the web process group we track
    assert len(pids) >= 3  # help.py, uvicorn's reloader, its worker
    code = run.stop(signal.SIGINT)
    assert code == 0, run.output
    assert secret not in run.output
    time.sleep(0.2)
    left = [pid for pid in run.seen_pids if alive(pid)]
    assert left == [], f"processes left after Ctrl-C: {left}\n{run.output}"
    assert not list((sample_app / ".help" / "run").glob("*.pid"))

    # A second start finds the database at the head revision: no migration step.
    plan = run_help("run", "plan", "--json", cwd=sample_app)
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert [p["name"] for p in data["processes"]] == ["web"]
    assert any("already at the alembic head" in note for note in data["notes"])


def test_server_restarts_after_a_crash(sample_app: Path, running) -> None:
    port = free_port()
    run = running(sample_app, env={"PORT": str(port)})
    first = wait_http(f"http://127.0.0.1:{port}/")
    leader = int(run.pid_file("web")["pid"])
    worker = int(first["pid"])
    os.kill(leader, signal.SIGKILL)  # uvicorn's reloader dies; its worker is swept with the group
    run.wait_for(r"web was killed by SIGKILL; restarting")
    second = wait_http(f"http://127.0.0.1:{port}/", timeout=30)
    assert second["pid"] != worker
    assert int(run.pid_file("web")["pid"]) != leader
    assert not alive(worker)
    assert run.pid_file("web")["restarts"] == 1
    assert run.stop() == 0


def test_edit_reloads_the_server(sample_app: Path, running) -> None:
    port = free_port()
    running(sample_app, env={"PORT": str(port)})
    assert wait_http(f"http://127.0.0.1:{port}/")["message"] == "hello"
    time.sleep(0.6)  # uvicorn's reloader records the files' mtimes 0.25 s after starting its worker
    main = sample_app / "app" / "main.py"
    main.write_text(main.read_text().replace('MESSAGE = "hello"', 'MESSAGE = "edited"'))
    assert wait_http(f"http://127.0.0.1:{port}/", want="edited", timeout=30)["message"] == "edited"


def test_unreachable_postgres_is_a_clear_error_and_nothing_starts(sample_app: Path) -> None:
    port = free_port()  # nothing listens there
    result = run_help(
        "run", cwd=sample_app, env={"DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{port}/app"}, timeout=60
    )
    assert result.returncode == 1
    assert f"postgres at 127.0.0.1:{port} (from DATABASE_URL) is not reachable" in result.stderr
    assert "docker run" in result.stderr and "postgres:16" in result.stderr
    assert ":pw@" not in result.stderr  # the URL's password is never printed
    assert not list((sample_app / ".help" / "run").glob("*.pid"))
    assert not (sample_app / "data").exists()


def test_sigkill_of_help_py_leaves_no_uvicorn(sample_app: Path, running) -> None:
    port = free_port()
    run = running(sample_app, env={"PORT": str(port)})
    body = wait_http(f"http://127.0.0.1:{port}/")
    pids = run.pids() - {run.proc.pid}
    assert body["pid"] in pids
    run.proc.kill()
    run.proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    assert [p for p in pids if alive(p)] == [], "uvicorn outlived a SIGKILLed help.py run"


def test_port_held_by_another_process_is_an_error_before_migrations(sample_app: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_help("run", cwd=sample_app, env={"PORT": str(port)}, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()}" in result.stderr
    assert "ready" not in result.stdout
    db = sample_app / "data" / "app.db"
    if db.exists():  # alembic never ran: no revision table
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
