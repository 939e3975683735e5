"""Agent orchestration: overhead per model step against a direct loop of HTTP calls, and parallel speed-up.

Both sides talk to the same loopback model server (tests/agent/fakeserver.py)
speaking Ollama's NDJSON protocol. Overhead is everything but the model's own
time: the state machine, SQLite writes, tool execution, git and the sandboxed
test runs. Run: .venv/bin/python bench/agent.py
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.agent.conftest import make_engine, make_repo, script  # noqa: E402
from tests.agent.fakeserver import FakeModelServer, Fault, Turn  # noqa: E402

DIRECT_CALLS = 200
PARALLEL_SUBTASKS = 4
MODEL_SECONDS = 0.4  # simulated model time per coder call in the speed-up run


def direct_loop(url: str, calls: int) -> float:
    """Seconds per call of a bare loop: POST /api/chat, read the NDJSON stream to `done`."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": "coder:1b", "messages": [{"role": "system", "content": "[role:coder]"}], "stream": True}
    ).encode()
    started = time.perf_counter()
    for _ in range(calls):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/api/chat", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        for line in response:
            if json.loads(line).get("done"):
                break
        conn.close()
    return (time.perf_counter() - started) / calls


def orchestrated(server: FakeModelServer, folder: Path) -> tuple[float, float, int, float]:
    """(wall seconds, model seconds, model calls, sandbox seconds) of one scripted task end to end."""
    repo = make_repo(folder / "repo", server.url)
    engine, store = make_engine(repo, server, ["coder:1b"])
    started = time.perf_counter()
    task_id = engine.start("make add add", "bench")
    assert engine.run(task_id) == "done"
    wall = time.perf_counter() - started
    sandbox = sum(r["duration"] for r in store.results(task_id))
    return wall, engine.model_time, engine.model_calls, sandbox


def speedup(folder: Path) -> tuple[float, float]:
    """(serial seconds, parallel seconds) for independent sub-tasks whose coder calls each take MODEL_SECONDS."""
    times = []
    for parallel in (1, PARALLEL_SUBTASKS):
        turns = script()
        plan = {"subtasks": [{"title": f"part {n}", "files": [f"part{n}.py"]} for n in range(PARALLEL_SUBTASKS)]}
        turns["planner"] = [Turn("", [("submit_plan", plan)])]
        for n in range(PARALLEL_SUBTASKS):
            turns[f"coder:part {n}"] = [
                Turn("", [("write_file", {"path": f"part{n}.py", "content": f"X = {n}\n"}), ("finish", {})])
            ]
        turns["coder:part 0"] = turns["coder:fix add"]  # one of them fixes the failing test
        turns["tester"] = [Turn("", [("finish", {})])]
        with FakeModelServer(turns) as server:
            server.faults.append(Fault("delay", role="coder", seconds=MODEL_SECONDS, times=99))
            repo = make_repo(folder / f"par{parallel}", server.url)
            engine, _ = make_engine(repo, server, ["coder:1b"], parallel=parallel, review_command=["true"])
            started = time.perf_counter()
            task_id = engine.start("four independent parts", "bench")
            assert engine.run(task_id) == "done"
            times.append(time.perf_counter() - started)
    return times[0], times[1]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, FakeModelServer(script()) as server:
        server.chunk = 64
        per_call = direct_loop(server.url, DIRECT_CALLS)
        wall, model, calls, sandbox = orchestrated(server, Path(tmp))
        overhead = (wall - model) / calls
        overhead_no_sandbox = (wall - model - sandbox) / calls
        print(f"direct HTTP loop:       {per_call * 1000:8.2f} ms per model call ({DIRECT_CALLS} calls)")
        print(f"orchestrated task:      {wall:8.2f} s, {calls} model calls, model time {model:.2f} s")
        print(f"  overhead per step:    {overhead * 1000:8.2f} ms (everything but the model)")
        print(f"  without sandboxed runs{overhead_no_sandbox * 1000:8.2f} ms (state, SQLite, tools, git)")
        print(
            f"  ratio per step vs direct call: {overhead / per_call:.1f}x, without sandbox runs "
            f"{overhead_no_sandbox / per_call:.1f}x"
        )
        serial, parallel = speedup(Path(tmp))
        print(
            f"{PARALLEL_SUBTASKS} independent sub-tasks ({MODEL_SECONDS}s model per coder call): serial "
            f"{serial:.2f} s, parallel={PARALLEL_SUBTASKS} {parallel:.2f} s, speed-up {serial / parallel:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
