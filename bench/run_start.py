"""Time from start to the first HTTP 200: `help.py run` vs uvicorn by hand vs `honcho start`.

All three start the same sample app (tests/fixtures/run_app: FastAPI + uvicorn
--reload, SQLite at the alembic head) on the same port, in interleaved rounds.
help.py's migration and .env generation happen once before timing (a cold
start is shown separately). Target: under 150 ms over uvicorn by hand.

    python bench/run_start.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _peers import clean_python, compile_sources  # noqa: E402

from tests.run import sample  # noqa: E402

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = (entry / "stat").read_text()
                children.setdefault(int(text[text.rfind(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(c) for c in task.read_text().split()]
    return found


def server_started(root_pid: int) -> bool:
    """A descendant of `root_pid` has exec'd the server (its command line names uvicorn)."""
    todo = children(root_pid)
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if any(b"uvicorn" in a for a in argv) and not argv[0].endswith(b"sh"):
                return True
        todo += children(pid)
    return False


def first_200(cmd: list[str], cwd: Path, env: dict[str, str], port: int, stop_signal: int) -> tuple[float, float]:
    """(seconds to the server's exec, seconds to the first HTTP 200) from spawn; then stop it all."""
    while not port_free(port):
        time.sleep(0.05)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    direct = "uvicorn" in Path(cmd[0]).name
    spawned = 0.0 if direct else None
    elapsed = None
    deadline = started + 60
    while time.perf_counter() < deadline:
        if spawned is None and server_started(proc.pid):
            spawned = time.perf_counter() - started
        try:
            with OPENER.open(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200:
                    elapsed = time.perf_counter() - started
                    break
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.002)
    tree = descendants(proc.pid)
    proc.send_signal(stop_signal)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if elapsed is None:
        raise SystemExit(f"no HTTP 200 within 60 s from: {' '.join(cmd)}")
    return (spawned if spawned is not None else elapsed), elapsed


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness increment for the whole bench (negative needs root): less noise on a busy machine",
    )
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)  # inherited by every runner alike

    # A developer's checkout has bytecode; this machine may run with PYTHONDONTWRITEBYTECODE.
    compile_sources()
    print("preparing the sample app's venv (fastapi, uvicorn, alembic, sqlalchemy, honcho) ...", file=sys.stderr)
    venv = sample.app_venv(extra=("honcho",))
    work = Path(tempfile.mkdtemp(prefix="run-bench-"))
    try:
        app = sample.copy_app(work / "app", venv)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELP_")}
        env |= {"PORT": str(port), "NO_COLOR": "1"}
        help_cmd = [clean_python(), str(ROOT / "help.py"), "run"]
        cold = first_200(help_cmd, app, env, port, signal.SIGINT)[1]  # .env, SQLite file, alembic upgrade head
        # Every runner gets the same environment the app needs, as a developer would export it.
        dotenv = dict(
            line.split("=", 1)
            for line in (app / ".env").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        app_env = {**env, **dotenv}
        server = ["uvicorn", "app.main:app", "--reload", "--host", "127.0.0.1", "--port", str(port)]
        procfile = work / "Procfile"
        procfile.write_text("web: " + " ".join(server) + "\n")
        runners = {
            "uvicorn by hand": ([str(venv / "bin" / server[0]), *server[1:]], app_env, signal.SIGINT),
            "honcho start": (
                [str(venv / "bin" / "honcho"), "-f", str(procfile), "-d", str(app), "start"],
                {**env, "PATH": f"{venv / 'bin'}:{env['PATH']}"},
                signal.SIGINT,
            ),
            "help.py run": (help_cmd, env, signal.SIGINT),
        }
        times: dict[str, list[float]] = {name: [] for name in runners}
        spawns: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, (cmd, run_env, sig) in runners.items():
                spawn, first = first_200(cmd, app, run_env, port, sig)
                spawns[name].append(spawn)
                times[name].append(first)
        startup = {
            "python -c pass": [help_cmd[0], "-c", "pass"],
            "help.py config show": [help_cmd[0], help_cmd[1], "config", "show"],  # the CLI's own floor
            "help.py run plan": [*help_cmd, "plan"],
        }
        startup_times = {
            name: statistics.median(timed(cmd, app, env) for _ in range(args.rounds)) for name, cmd in startup.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(times["uvicorn by hand"])
    print(f"\ntime to first HTTP 200, {args.rounds} interleaved rounds each, same app and port")
    print("(server exec = when uvicorn itself starts: the runner's own overhead, less noisy than the total)\n")
    print(f"{'runner':<20}{'median':>9}{'min':>9}{'max':>9}{'overhead':>10}{'ratio':>7}{'server exec':>13}")
    for name, values in times.items():
        med = statistics.median(values)
        cells = f"{med * 1000:>7.0f}ms{min(values) * 1000:>7.0f}ms{max(values) * 1000:>7.0f}ms{(med - base) * 1000:>+8.0f}ms{med / base:>6.2f}x"
        print(f"{name:<20}{cells}{statistics.median(spawns[name]) * 1000:>11.0f}ms")
    print(f"\nhelp.py run, cold (creates .env and the SQLite file, runs alembic upgrade head): {cold * 1000:.0f}ms")
    print(
        "start-up on this machine (median): "
        + ", ".join(f"{name} {t * 1000:.0f}ms" for name, t in startup_times.items())
    )
    # The verdict is on the first HTTP 200, the time a developer waits; server exec shows the runner's own part.
    for name in ("help.py run",):
        exec_at = statistics.median(spawns[name]) * 1000
        total = (statistics.median(times[name]) - base) * 1000
        verdict = "met" if total < 150 else "NOT met"
        print(
            f"target < 150 ms over uvicorn by hand to the first HTTP 200: {name}: {total:+.0f} ms"
            f" (server exec after {exec_at:.0f} ms) -> {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
