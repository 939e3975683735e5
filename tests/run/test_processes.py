"""Supervising configured processes: validation, order, readiness, restarts, reload, stop."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

from tests.conftest import run_help, write
from tests.run.conftest import alive

PY = json.dumps(sys.executable)

SLEEPER = """\
import os, sys, time
print(sys.argv[1] if len(sys.argv) > 1 else "up", os.getpid(), flush=True)
time.sleep(300)
"""
STUBBORN = """\
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", os.getpid(), flush=True)
time.sleep(300)
"""
VERSIONED = """\
import os, time
print("version", open("version.txt").read().strip(), os.getpid(), flush=True)
time.sleep(300)
"""


DAEMON = """\
import os, sys, time
if os.fork() == 0:
    os.setsid()  # leaves the process group help.py tracks
    os.write(1, f"daemon {os.getpid()}\\n".encode())  # one write: the two processes share the pipe
    time.sleep(300)
    sys.exit()
os.write(1, f"parent {os.getpid()}\\n".encode())
time.sleep(300)
"""


def watchdogs(root: Path) -> list[int]:
    """The pids of the watchdogs of the run in `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"helper.running.watchdog" in argv and str(root / ".help" / "run").encode() in argv:
                    found.append(int(entry.name))
    return found


def wait_dead(pids: set[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def project(make_project, body: str, files: dict[str, str] | None = None) -> Path:
    pyproject = f'[project]\nname = "demo"\nversion = "0"\n\n[tool.help.run]\n{body}'
    return make_project(
        pyproject=pyproject,
        files={"sleeper.py": SLEEPER, "stubborn.py": STUBBORN, "versioned.py": VERSIONED, **(files or {})},
    )


def test_bad_process_entries_name_file_and_line(make_project) -> None:
    cases = {
        "unknown field": (
            '[tool.help.run.processes.web]\ncommand = "x"\ncomand_typo = 1\n',
            "unknown field 'comand_typo'",
            10,
        ),
        "bad restart": (
            '[tool.help.run.processes.web]\ncommand = "x"\nrestart = "sometimes"\n',
            "restart: expected one of",
            10,
        ),
        "bad ready": (
            '[tool.help.run.processes.web]\ncommand = "x"\nready = { port = 1, log = "x" }\n',
            "give exactly one of port, http or log",
            10,
        ),
        "unknown dependency": (
            '[tool.help.run.processes.web]\ncommand = "x"\ndepends_on = ["db"]\n',
            "no process named 'db'",
            10,
        ),
        "cycle": (
            '[tool.help.run.processes.a]\ncommand = "x"\ndepends_on = ["b"]\n[tool.help.run.processes.b]\ncommand = "y"\ndepends_on = ["a"]\n',
            "cycle: a -> b -> a",
            10,
        ),
        "no command": ('[tool.help.run.processes.web]\ncwd = "."\n', "command: expected a command", 8),
    }
    for name, (toml, message, line) in cases.items():
        root = make_project(
            pyproject=f'[project]\nname = "demo"\nversion = "0"\n\n[tool.help.run]\ngrace = 1\n\n{toml}'
        )
        result = run_help("run", "plan", cwd=root)
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)
        assert f"pyproject.toml:{line}:" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr


def test_procfile_is_used_and_a_bad_line_is_named(make_project) -> None:
    root = make_project(files={"Procfile": "web: python -m http.server $PORT\nworker python worker.py\n"})
    result = run_help("run", "plan", cwd=root)
    assert result.returncode == 2 and "Procfile:2: not a `name: command` line" in result.stderr
    write(root / "Procfile", "# processes\nweb: python -m http.server $PORT\nworker: python worker.py\n")
    plan = json.loads(run_help("run", "plan", "--json", cwd=root).stdout)
    assert plan["source"] == "procfile"
    assert [(p["name"], p["command"]) for p in plan["processes"]] == [
        ("web", "python -m http.server $PORT"),
        ("worker", "python worker.py"),
    ]


def test_start_follows_depends_on_and_readiness(make_project, running) -> None:
    body = f"""
[tool.help.run.processes.api]
command = [{PY}, "sleeper.py", "api-up"]
depends_on = ["db"]

[tool.help.run.processes.db]
command = [{PY}, "-c", "import time; time.sleep(1); print('db accepting connections', flush=True); time.sleep(300)"]
ready = {{ log = "accepting connections" }}
"""
    root = project(make_project, body)
    plan = json.loads(run_help("run", "plan", "--json", cwd=root).stdout)
    assert [p["name"] for p in plan["processes"]] == ["db", "api"]
    run = running(root)
    ready_at = run.wait_for(r"run +\| db ready \(log line")
    api_at = run.wait_for(r"api +\| api-up")
    assert ready_at < api_at, run.output
    assert run.stop() == 0


def test_crash_loop_is_given_up_with_exit_1(make_project, running) -> None:
    body = f"""restart_limit = 3

[tool.help.run.processes.flaky]
command = [{PY}, "-c", "import sys; print('boom', flush=True); sys.exit(3)"]
restart = "always"

[tool.help.run.processes.steady]
command = [{PY}, "sleeper.py"]
"""
    root = project(make_project, body)
    run = running(root)
    code = run.proc.wait(timeout=60)
    run._reader.join(timeout=5)
    assert code == 1, run.output
    assert run.output.count("flaky exited with code 3; restarting") == 2
    assert "flaky: crash loop: exited with code 3, 3 times in a row; gave up" in run.output
    assert "steady" in run.output  # the healthy one was stopped with the rest
    assert not [pid for pid in run.seen_pids | run.pids() if alive(pid)]


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(make_project, running) -> None:
    body = f"""grace = 1.0

[tool.help.run.processes.stubborn]
command = [{PY}, "stubborn.py"]

[tool.help.run.processes.polite]
command = [{PY}, "sleeper.py"]
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("ignoring SIGTERM")
    run.wait_for(r"polite +\| up")
    stubborn = int(run.pid_file("stubborn")["pid"])
    started = time.monotonic()
    assert run.stop(signal.SIGINT) == 0
    took = time.monotonic() - started
    assert 1.0 <= took < 10, took
    assert "stubborn ignored SIGTERM for 1s; killed" in run.output
    assert "killed after the grace period: stubborn" in run.output
    assert not alive(stubborn)
    assert not [pid for pid in run.seen_pids if alive(pid)]


def test_status_and_stop_from_another_terminal(make_project, running) -> None:
    body = f"""
[tool.help.run.processes.worker]
command = [{PY}, "sleeper.py", "working"]
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("working")
    status = run_help("run", "--status", "--json", cwd=root)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] and data["supervisor"]["pid"] == run.proc.pid
    [worker] = data["processes"]
    assert worker["name"] == "worker" and worker["alive"] and worker["pid"] == int(run.pid_file("worker")["pid"])

    second = run_help("run", cwd=root, timeout=30)
    assert second.returncode == 1 and "already running" in second.stderr and str(run.proc.pid) in second.stderr

    pids = run.pids()
    stop = run_help("run", "stop", cwd=root, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert run.proc.wait(timeout=10) == 0
    assert not [pid for pid in pids if alive(pid)]
    after = json.loads(run_help("run", "status", "--json", cwd=root).stdout)
    assert after == {"running": False, "supervisor": None, "processes": []}


def test_orphans_of_a_killed_run_are_found_and_stopped(make_project, running) -> None:
    body = f"""
[tool.help.run.processes.worker]
command = [{PY}, "sleeper.py", "working"]
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("working")
    worker = int(run.pid_file("worker")["pid"])
    # The supervisor and its watchdog both die without cleaning up (an OOM kill of the session, say).
    for pid in watchdogs(root):
        os.kill(pid, signal.SIGKILL)
    run.proc.kill()
    run.proc.wait(timeout=10)
    assert alive(worker)
    again = run_help("run", cwd=root, timeout=30)
    assert again.returncode == 1 and f"worker (pid {worker})" in again.stderr and "run stop" in again.stderr
    doctor = run_help("doctor", cwd=root, timeout=60)
    assert "left over from a run that died: worker" in doctor.stdout and "help.py run stop" in doctor.stdout
    stop = run_help("run", "stop", "--json", cwd=root, timeout=60)
    assert stop.returncode == 0 and json.loads(stop.stdout)["orphans_stopped"] == ["worker"]
    assert not alive(worker)


def test_reload_restarts_a_process_when_a_file_changes(make_project, running) -> None:
    body = f"""reload_interval = 0.2

[tool.help.run.processes.app]
command = [{PY}, "versioned.py"]
reload = true

[tool.help.run.processes.other]
command = [{PY}, "sleeper.py", "other-up"]
"""
    root = project(make_project, body, files={"version.txt": "1\n"})
    run = running(root, "-v")
    run.wait_for(r"app +\| version 1")
    run.wait_for("other-up")
    run.wait_for(r"reload: watching \d+ files")  # the watcher's first snapshot is taken
    first = int(run.pid_file("app")["pid"])
    other = int(run.pid_file("other")["pid"])
    (root / "version.txt").write_text("2\n")
    run.wait_for(r"app: version.txt changed; restarting")
    run.wait_for(r"app +\| version 2")
    assert not alive(first)
    assert int(run.pid_file("other")["pid"]) == other  # reload = false: left alone
    # Touching without changing content is not a change.
    (root / "version.txt").write_text("2\n")
    time.sleep(1.0)
    assert run.output.count("changed; restarting") == 1
    assert run.stop() == 0


def test_sigterm_to_run_stops_everything(make_project, running) -> None:
    body = f"""
[tool.help.run.processes.worker]
command = ["/bin/sh", "-c", "{sys.executable} sleeper.py child & {sys.executable} sleeper.py parent; wait"]
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("child")
    run.wait_for("parent")
    pids = run.pids()
    assert len(pids) >= 4  # help.py, sh, and both pythons in sh's group
    assert run.stop(signal.SIGTERM) == 0
    assert not [pid for pid in pids if alive(pid)]


def test_second_ctrl_c_kills_without_waiting_for_the_grace_period(make_project, running) -> None:
    body = f"""grace = 60

[tool.help.run.processes.stubborn]
command = [{PY}, "stubborn.py"]
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("ignoring SIGTERM")
    stubborn = int(run.pid_file("stubborn")["pid"])
    started = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    run.wait_for("SIGINT: stopping stubborn")
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(timeout=20) == 0
    assert time.monotonic() - started < 20
    assert not alive(stubborn)


def test_json_result_names_what_failed(make_project) -> None:
    body = f"""
[tool.help.run.processes.setup]
command = [{PY}, "-c", "import sys; print('cannot migrate'); sys.exit(4)"]
restart = "no"
ready = {{ log = "migrated" }}

[tool.help.run.processes.web]
command = [{PY}, "sleeper.py"]
depends_on = ["setup"]
"""
    root = project(make_project, body)
    result = run_help("run", "--json", cwd=root, timeout=60)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["failed"] == {"setup": "exited with code 4"}
    assert {p["name"]: (p["status"], p["reason"]) for p in data["processes"]} == {
        "setup": ("failed", "exited with code 4"),
        "web": ("not started", "setup failed"),
    }
    assert "setup | cannot migrate" in result.stderr  # process output stays off stdout in --json mode


def test_http_and_port_readiness_gate_dependents_and_a_timeout_fails(make_project, running) -> None:
    from tests.run.conftest import free_port

    web_port, never = free_port(), free_port()
    body = f"""
[tool.help.run.processes.web]
command = [{PY}, "-c", "import time; time.sleep(0.5); import http.server, sys; sys.argv = ['x', '{web_port}', '--bind', '127.0.0.1']; http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port={web_port}, bind='127.0.0.1')"]
ready = {{ http = "http://127.0.0.1:{web_port}/" }}

[tool.help.run.processes.client]
command = [{PY}, "-c", "import urllib.request, time; print('got', urllib.request.urlopen('http://127.0.0.1:{web_port}/').status, flush=True); time.sleep(300)"]
depends_on = ["web"]

[tool.help.run.processes.late]
command = [{PY}, "sleeper.py"]
ready = {{ port = {never}, timeout = 5 }}
"""
    root = project(make_project, body)
    run = running(root, env={"no_proxy": "*"})
    run.wait_for(r"web ready \(HTTP 200 from")
    run.wait_for(r"client +\| got 200")
    code = run.proc.wait(timeout=30)
    run._reader.join(timeout=5)
    assert code == 1
    assert re.search(rf"late: not ready after \d+s \(waited for port {never} open\)", run.output), run.output


def test_a_missing_program_fails_with_its_name(make_project) -> None:
    root = project(make_project, '\n[tool.help.run.processes]\nweb = ["no-such-program-xyz", "--port", "1"]\n')
    result = run_help("run", cwd=root, timeout=60)
    assert result.returncode == 1
    assert "web: cannot run `no-such-program-xyz`: program not found" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_output_prefixes_are_coloured_on_a_terminal_only(make_project) -> None:
    import os
    import pty
    import subprocess

    from tests.conftest import HELP, clean_env

    root = project(make_project, f'\n[tool.help.run.processes]\nhello = [{PY}, "-c", "print(\'hi there\')"]\n')
    env = clean_env()
    env.pop("NO_COLOR")
    env["TERM"] = "xterm"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(HELP), "run"], cwd=root, env=env, stdout=slave, stderr=subprocess.DEVNULL
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: help.py is gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    tty_text = b"".join(chunks).decode()
    assert "\x1b[36mhello | \x1b[0mhi there" in tty_text
    plain = run_help("run", cwd=root)
    assert "hello | hi there" in plain.stdout and "\x1b[" not in plain.stdout


def test_setup_commands_run_in_order_before_the_processes(make_project) -> None:
    body = f"""setup = [
  "{sys.executable} -c \\"open('step1', 'w').write('1')\\"",
  "{sys.executable} -c \\"import os; assert os.path.exists('step1'); open('step2', 'w').write('2')\\"",
]

[tool.help.run.processes]
check = [{PY}, "-c", "import os; print('steps seen:', os.path.exists('step1') and os.path.exists('step2'))"]
"""
    root = project(make_project, body)
    plan = json.loads(run_help("run", "plan", "--json", cwd=root).stdout)
    assert [(p["name"], p["depends_on"]) for p in plan["processes"]] == [
        ("setup1", []),
        ("setup2", ["setup1"]),
        ("check", ["setup2"]),
    ]
    result = run_help("run", cwd=root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "check  | steps seen: True" in result.stdout
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text().replace("assert os.path.exists('step1')", "raise SystemExit(7)")
    )
    failed = run_help("run", cwd=root, timeout=60)
    assert failed.returncode == 1 and "setup2: exited with code 7" in failed.stderr


def test_environment_layers_dotenv_then_real_environment_then_process_env(make_project) -> None:
    show = "import os; print('|'.join(os.environ.get(k, '-') for k in ('FROM_FILE', 'OVERRIDDEN', 'PROC', 'PORT')))"
    body = f"""
[tool.help.run.processes.show]
command = [{PY}, "-c", "{show}"]
env = {{ PROC = "from-process-env", OVERRIDDEN = "process-wins" }}

[tool.help.run.processes.plain]
command = [{PY}, "-c", "{show}"]
"""
    root = project(make_project, body, files={".env": "FROM_FILE=dotenv\nOVERRIDDEN=dotenv\n"})
    result = run_help("run", cwd=root, env={"OVERRIDDEN": "real-env"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "show  | dotenv|process-wins|from-process-env|8000" in result.stdout
    assert "plain | dotenv|real-env|-|8000" in result.stdout


def test_a_process_that_stayed_up_long_enough_is_not_a_crash_loop(make_project, running) -> None:
    body = f"""restart_limit = 2
restart_window = 0.5

[tool.help.run.processes.slow_crash]
command = [{PY}, "-c", "import time, sys; print('up', flush=True); time.sleep(0.8); sys.exit(1)"]
restart = "always"
"""
    root = project(make_project, body)
    run = running(root)
    index = -1
    for _ in range(3):  # more crashes than restart_limit, each after 0.8 s up: restarted every time
        index = run.wait_for(r"slow_crash exited with code 1; restarting in [\d.]+s \(1/2\)", start=index + 1)
    assert "gave up" not in run.output
    assert run.stop() == 0


def daemon_project(make_project) -> Path:
    body = f"""grace = 2

[tool.help.run.processes.worker]
command = [{PY}, "daemon.py"]
"""
    return project(make_project, body, files={"daemon.py": DAEMON})


def tracked(run, name: str, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if any(p == pid for p, _ in run.pid_file(name).get("tree", [])):
                return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never recorded in {name}.pid")


def test_run_stop_stops_a_child_that_left_the_group(make_project, running) -> None:
    root = daemon_project(make_project)
    run = running(root)
    daemon = int(re.search(r"daemon (\d+)", run.lines[run.wait_for(r"daemon \d+")]).group(1))
    tracked(run, "worker", daemon)
    stop = run_help("run", "stop", cwd=root, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert run.proc.wait(timeout=30) == 0, run.output
    assert wait_dead({daemon}) == [], f"the setsid child outlived `run stop`:\n{run.output}"


def test_sigkill_of_help_py_leaves_no_child(make_project, running) -> None:
    root = daemon_project(make_project)
    run = running(root)
    daemon = int(re.search(r"daemon (\d+)", run.lines[run.wait_for(r"daemon \d+")]).group(1))
    tracked(run, "worker", daemon)
    pids = run.pids() | {daemon}
    run.proc.kill()
    run.proc.wait(timeout=10)
    assert wait_dead(pids - {run.proc.pid}) == [], "children outlived a SIGKILLed help.py run"
    deadline = time.monotonic() + 10
    while list((root / ".help" / "run").glob("*.pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list((root / ".help" / "run").glob("*.pid"))  # the watchdog cleaned up as `run stop` does


def test_a_port_in_use_is_one_error_before_anything_starts(make_project) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        body = f"""
[tool.help.run.processes.setup]
command = [{PY}, "-c", "open('setup-ran', 'w')"]
restart = "no"

[tool.help.run.processes.web]
command = [{PY}, "sleeper.py", "web-up"]
ready = {{ port = {port} }}
"""
        root = project(make_project, body)
        result = run_help("run", cwd=root, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()}" in result.stderr
    assert "web ready" not in result.stdout
    assert not (root / "setup-ran").exists()
    assert not list((root / ".help" / "run").glob("*.pid"))


def test_a_port_opened_by_another_process_is_not_our_readiness(make_project, running) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = f"""
[tool.help.run.processes.web]
command = [{PY}, "sleeper.py", "web-up"]
ready = {{ port = {port}, timeout = 3 }}
"""
    root = project(make_project, body)
    run = running(root)
    run.wait_for("web-up")
    with socket.socket() as other:  # someone else grabs the port after the check before start
        other.bind(("127.0.0.1", port))
        other.listen()
        run.wait_for(r"web: not ready after", timeout=20)
        assert run.proc.wait(timeout=30) == 1
    assert "web ready" not in run.output
    assert f"port {port} is held by pid {os.getpid()}" in run.output
