"""What the MCP server adds to a command: tools/call latency against the CLI's own time for the same answer.

    python bench/mcp.py [--runs 10]

In a temporary sample project (a package and three tests, results cached
first): the wall time of `help.py --json env` and of a cached `help.py --json
test` run as processes, against `tools/call` of `env` and `test` on a running
`help.py mcp` over stdio; and the time from starting the server to its first
response. Target: the server adds under 5 ms per call once started.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HELP = ROOT / "help.py"
ENV = dict(os.environ, NO_COLOR="1")  # as the server runs its commands
MODERN = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def make_project(where: Path) -> Path:
    (where / "sample").mkdir(parents=True)
    (where / "tests").mkdir()
    (where / "pyproject.toml").write_text('[project]\nname = "sample"\nversion = "0.1.0"\n')
    (where / "sample" / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (where / "tests" / "test_sample.py").write_text(
        "from sample import double\n\n"
        + "".join(f"def test_{n}():\n    assert double({n}) == {2 * n}\n\n" for n in range(3))
    )
    return where


def cli_times(project: Path, args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(HELP), "--json", *args], cwd=project, env=ENV, capture_output=True, check=False
        )
        times.append(time.perf_counter() - started)
    return times


class Stdio:
    def __init__(self, project: Path) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(HELP), "mcp"],
            cwd=project,
            env=ENV,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.next_id = 0

    def request(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.next_id += 1
        sent = time.perf_counter()
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": {**params, "_meta": MODERN}}
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            answer = json.loads(self.proc.stdout.readline())
            if answer.get("id") == self.next_id:
                return answer, time.perf_counter() - sent

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "proj")
        warm = subprocess.run([sys.executable, str(HELP), "test"], cwd=project, capture_output=True, text=True)
        if warm.returncode != 0:
            print(warm.stdout[-2000:], warm.stderr[-2000:], file=sys.stderr)
            return 1
        cli_times(project, ["env"], 1)
        server = Stdio(project)
        _, _ = server.request("server/discover", {})
        first = time.perf_counter() - server.started
        rows = []
        for tool, cli_args in (("env", ["env"]), ("test", ["test"])):
            server.request("tools/call", {"name": tool, "arguments": {}})  # warm
            cli, calls = [], []
            for _ in range(args.runs):  # interleaved, so load from elsewhere falls on both alike
                cli += cli_times(project, cli_args, 1)
                answer, seconds = server.request("tools/call", {"name": tool, "arguments": {}})
                assert not answer["result"]["isError"], answer
                calls.append(seconds)
            rows.append((tool, statistics.median(cli), statistics.median(calls)))
        server.close()
    print(f"server start to first response (server/discover): {first * 1000:.1f} ms")
    print(f"{'tool':<6} {'CLI ms':>8} {'MCP ms':>8} {'added ms':>9}   (medians of {args.runs})")
    for tool, cli_s, mcp_s in rows:
        print(f"{tool:<6} {cli_s * 1000:8.1f} {mcp_s * 1000:8.1f} {(mcp_s - cli_s) * 1000:9.1f}")
    worst = max(mcp_s - cli_s for _, cli_s, mcp_s in rows)
    print(f"target: under 5 ms added per call -> {'met' if worst < 0.005 else 'NOT met'} ({worst * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
