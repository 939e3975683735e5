"""Benchmark: a no-op `help.py install` on an in-sync project against the managers' own no-op syncs.

Builds tiny wheels, serves them as a PEP 503 index on loopback, makes one sample
project per manager (uv, poetry, pdm, plus a plain pip one), syncs each once, then
times N runs of `help.py install` next to `uv sync`, `poetry install` and
`pdm sync` on the same project. Prints median and best times and the ratios.
Targets: help.py no-op under 100 ms; its overhead over `uv sync` under 60 ms.
A no-op is answered by replay (helper.replay) while nothing it read changed; the
full in-sync check that runs after any change is timed and printed too.

    python bench/install.py [-n RUNS]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _peers import clean_python, compile_sources, find, install_peers  # noqa: E402

from tests.install import samples  # noqa: E402
from tests.install.conftest import _make_tree, index_env  # noqa: E402

HELP = ROOT / "help.py"
FULL_CHECK = "<full check>"
PEERS = {"uv": ["uv", "sync"], "poetry": ["poetry", "install"], "pdm": ["pdm", "sync"]}


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/simple/"


def once(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    if cmd[-1] == FULL_CHECK:  # the first no-op after any change: no replay record to answer from
        cmd = cmd[:-1]
        shutil.rmtree(cwd / ".help" / "replay", ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{result.stdout}{result.stderr}")
    return elapsed


def timed(commands: list[list[str]], cwd: Path, env: dict[str, str], runs: int) -> list[list[float]]:
    """Times of each command, interleaved run by run so load changes hit all of them alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for slot, cmd in enumerate(commands):
            times[slot].append(once(cmd, cwd, env))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="help-bench-install-"))
    server = None
    try:
        _make_tree(work / "index")
        server, url = serve(work / "index")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "UV_", "POETRY_", "PDM_", "HELP_", "VIRTUAL_ENV"))
        }
        env.update(index_env(url, work / "caches"))
        env["NO_COLOR"] = "1"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # time help.py as users run it: with its bytecode cache
        # help.py as users start it: a plain interpreter, not this repository's dev venv.
        python = [clean_python()]
        compile_sources()
        install_peers(["uv", "poetry", "pdm"])
        # The peers' own binaries: a pyenv shim in front of them would add ~150 ms to each.
        peers = {kind: [found, *cmd[1:]] for kind, cmd in PEERS.items() if (found := find(cmd[0]))}
        rows = []
        full_checks: dict[str, list[float]] = {}
        base = timed([[*python, "-c", "pass"]], work, env, args.runs)[0]
        for kind in ("pip", *PEERS):
            if kind != "pip" and kind not in peers:
                print(f"{kind}: not installed, skipped", file=sys.stderr)
                continue
            project = samples.make(kind, work / kind, url)
            first = subprocess.run(
                [*python, str(HELP), "install"], cwd=project, env=env, capture_output=True, text=True
            )
            if first.returncode != 0:
                raise SystemExit(f"help.py install failed for {kind}:\n{first.stderr}")
            # In sync for a moment, as between two commands of a working day: files younger than
            # 2 s are never trusted by stat alone, so the no-op answer is kept only after that.
            time.sleep(2.1)
            commands = [[*python, str(HELP), "install"], *([peers[kind]] if kind in peers else [])]
            commands.append([*python, str(HELP), "install", FULL_CHECK])
            measured = timed(commands, project, env, args.runs)
            rows.append((kind, measured[0], measured[1] if len(measured) > 2 else None))
            full_checks[kind] = measured[-1]
        med = statistics.median
        print(
            f"no-op install on an in-sync project, {args.runs} runs each (median / best, ms); python -c pass: {med(base):.0f} / {min(base):.0f}"
        )
        header = f"{'project':<8} {'help.py install':>17} {'over python':>11} {'peer':<16} {'peer time':>13} {'ratio':>6} {'overhead':>9}"
        print(header)
        print("-" * len(header))
        for kind, ours, theirs in rows:
            ours_text = f"{med(ours):6.0f} / {min(ours):4.0f}"
            over_python = f"{med(ours) - med(base):+.0f}ms"
            if theirs is None:
                print(f"{kind:<8} {ours_text:>17} {over_python:>11} {'-':<16} {'-':>13} {'-':>6} {'-':>9}")
                continue
            ratio = med(ours) / med(theirs)
            overhead = med(ours) - med(theirs)
            theirs_text = f"{med(theirs):6.0f} / {min(theirs):4.0f}"
            print(
                f"{kind:<8} {ours_text:>17} {over_python:>11} {' '.join(PEERS[kind]):<16} {theirs_text:>13}"
                f" {ratio:6.2f} {overhead:+8.0f}ms"
            )
        print(
            "full in-sync check (first no-op after any change, nothing replayed), median ms: "
            + ", ".join(f"{kind} {med(times):.0f}" for kind, times in full_checks.items())
        )
        uv_row = next((r for r in rows if r[0] == "uv"), None)
        all_ours = [med(r[1]) for r in rows]
        print(
            f"target: help.py no-op under 100 ms -> worst median {max(all_ours):.0f} ms: {'met' if max(all_ours) < 100 else 'NOT met'}"
        )
        if uv_row and uv_row[2]:
            over = med(uv_row[1]) - med(uv_row[2])
            print(f"target: overhead over uv under 60 ms -> {over:+.0f} ms: {'met' if over < 60 else 'NOT met'}")
        return 0
    finally:
        if server is not None:
            server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
