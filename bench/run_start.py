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


def first_200(cmd: list[str], cwd: Path, env: dict[str, str], port: int, stop_signal: int) -> float:
    """Seconds from spawn to the first HTTP 200 on `port`; then stop everything it started."""
    while not port_free(port):
        time.sleep(0.05)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    elapsed = None
    deadline = started + 60
    while time.perf_counter() < deadline:
        try:
            with OPENER.open(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.status == 200:
                    elapsed = time.perf_counter() - started
                    break
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.005)
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
    return elapsed


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    # A developer's checkout has bytecode; this machine may run with PYTHONDONTWRITEBYTECODE.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "helper")], check=True, stdout=subprocess.DEVNULL
    )
    print("preparing the sample app's venv (fastapi, uvicorn, alembic, sqlalchemy, honcho) ...", file=sys.stderr)
    venv = sample.app_venv(extra=("honcho",))
    work = Path(tempfile.mkdtemp(prefix="run-bench-"))
    try:
        app = sample.copy_app(work / "app", venv)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELP_")}
        env |= {"PORT": str(port), "NO_COLOR": "1"}
        help_cmd = [sys.executable, str(ROOT / "help.py"), "run"]
        cold = first_200(help_cmd, app, env, port, signal.SIGINT)  # .env, SQLite file, alembic upgrade head
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
            # The same, started by the venv's python (an activated venv): no base site-packages to load.
            "help.py run (venv)": ([str(venv / "bin" / "python"), *help_cmd[1:]], env, signal.SIGINT),
        }
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, (cmd, run_env, sig) in runners.items():
                times[name].append(first_200(cmd, app, run_env, port, sig))
        startup = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "venv python -c pass": [str(venv / "bin" / "python"), "-c", "pass"],
            "help.py run plan": [*help_cmd, "plan"],
        }
        startup_times = {
            name: statistics.median(timed(cmd, app, env) for _ in range(args.rounds)) for name, cmd in startup.items()
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(times["uvicorn by hand"])
    print(f"\ntime to first HTTP 200, {args.rounds} rounds each (median / min / max), same app and port\n")
    print(f"{'runner':<20}{'median':>10}{'min':>10}{'max':>10}{'overhead':>11}{'ratio':>8}")
    for name, values in times.items():
        med = statistics.median(values)
        print(
            f"{name:<20}{med * 1000:>8.0f}ms{min(values) * 1000:>8.0f}ms{max(values) * 1000:>8.0f}ms{(med - base) * 1000:>+9.0f}ms{med / base:>7.2f}x"
        )
    print(f"\nhelp.py run, cold (creates .env and the SQLite file, runs alembic upgrade head): {cold * 1000:.0f}ms")
    print(
        "start-up on this machine (median): "
        + ", ".join(f"{name} {t * 1000:.0f}ms" for name, t in startup_times.items())
    )
    for name in ("help.py run", "help.py run (venv)"):
        overhead = (statistics.median(times[name]) - base) * 1000
        print(
            f"target: {name} < 150 ms over uvicorn by hand -> {overhead:+.0f} ms ({'met' if overhead < 150 else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
