"""Benchmark: `help.py env --python` against the tools' own "which interpreter?" commands on one project.

Peers: `uv python find`, `poetry env info -p`, `pdm info --python`, `hatch env find`.
One temp project is set up so every tool answers (uv-synced .venv, poetry
in-project, .pdm-python), then each command runs N times; the table shows the
median and the ratios to bare `python -c pass` and to help.py. pyenv shims are
resolved to the real programs first (a shim adds ~200 ms to whatever it runs).

    python bench/env_detect.py [--runs 15]

The `-C DIR` row runs from the project's parent folder, naming the project, as CI scripts
and hooks call help.py; its answer is replayed like the one asked from inside.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _peers import clean_python  # noqa: E402

from helper.envs.base import Context  # noqa: E402
from helper.envs.pyenv import pyenv_root, resolve_shim  # noqa: E402

PYPROJECT = """[project]
name = "bench-proj"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = []

[tool.uv]
package = false

[tool.hatch.envs.default]
skip-install = true
"""


def real_tool(name: str, project: Path) -> str | None:
    """The program behind `name`, with a pyenv shim resolved by reading pyenv's files."""
    found = shutil.which(name)
    if found is None:
        return None
    ctx = Context(project=project, environ=os.environ)
    if Path(found).parent == pyenv_root(ctx) / "shims":
        exe, _, _ = resolve_shim(ctx, name)
        return str(exe) if exe else found
    return found


def once(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, bool]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return elapsed, lines[-1] if lines else "", done.returncode == 0


def timed_all(
    rows: list[tuple[str, list[str]]],
    cwd: Path,
    env: dict[str, str],
    runs: int,
    cwds: dict[str, Path] | None = None,
) -> list[tuple[str, float, str]]:
    """Round-robin over the commands so a busy moment of the machine hits them all alike.
    Each runs in `cwd` unless `cwds` names another folder for its label."""
    samples: dict[str, list[float]] = {label: [] for label, _ in rows}
    answers: dict[str, str] = {}
    failed: set[str] = set()
    for round_number in range(runs + 2):
        for label, cmd in rows:
            if not cmd or label in failed:
                continue
            elapsed, out, ok = once(cmd, (cwds or {}).get(label, cwd), env)
            answers[label] = out
            if not ok:
                failed.add(label)
            elif round_number >= 2:  # the first two rounds warm the page cache
                samples[label].append(elapsed)
    results = []
    for label, cmd in rows:
        if not cmd:
            results.append((label, float("nan"), "not installed"))
        elif label in failed:
            results.append((label, float("nan"), "failed: " + answers.get(label, "")))
        else:
            results.append((label, statistics.median(samples[label]), answers.get(label, "")))
    return results


def setup(project: Path, env: dict[str, str]) -> None:
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "poetry.toml").write_text("[virtualenvs]\nin-project = true\n")
    uv = real_tool("uv", project)
    if uv:
        subprocess.run(
            [uv, "sync", "--offline", "--python", sys.executable], cwd=project, env=env, check=True, capture_output=True
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=project, env=env, check=True)
    (project / ".pdm-python").write_text(str(project / ".venv/bin/python"))
    time.sleep(2.1)  # files younger than 2 s are never trusted by stat alone: no answer is kept for them
    for args, cwd in ((["env", "--python"], project), (["-C", str(project), "env", "--python"], project.parent)):
        subprocess.run(
            [clean_python(), str(ROOT / "help.py"), *args], cwd=cwd, env=env, check=True, capture_output=True
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        # Bytecode caching on, as for any installed tool (the peers' .pyc files were written by pip).
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HELP_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))
        }
        env.update({"PDM_CHECK_UPDATE": "false", "HATCH_DATA_DIR": str(Path(tmp) / "hatch"), "NO_COLOR": "1"})
        setup(project, env)
        python = clean_python()  # as the peers' venvs: no site-packages hooks
        rows = [
            ("python -c pass", [python, "-c", "pass"]),
            ("help.py env --python", [python, str(ROOT / "help.py"), "env", "--python"]),
            # As CI scripts and hooks call it: from outside the project, naming it.
            ("help.py -C DIR env --python", [python, str(ROOT / "help.py"), "-C", str(project), "env", "--python"]),
            ("help.py env --python (no cache)", [python, str(ROOT / "help.py"), "env", "--python", "--refresh"]),
            # Without site (help.py needs only the standard library): start-up without any .pth hooks.
            ("python -S -c pass", [python, "-S", "-c", "pass"]),
            ("python -S help.py env --python", [python, "-S", str(ROOT / "help.py"), "env", "--python"]),
        ]
        peers = {
            "uv": ["python", "find"],
            "poetry": ["env", "info", "-p"],
            "pdm": ["info", "--python"],
            "hatch": ["env", "find"],
        }
        for tool, rest in peers.items():
            exe = real_tool(tool, project)
            if exe:
                rows.append((f"{tool} {' '.join(rest)}", [exe, *rest]))
            else:
                rows.append((f"{tool} {' '.join(rest)}", []))
        results = timed_all(rows, project, env, args.runs, {"help.py -C DIR env --python": project.parent})
        base = results[0][1]
        ours = results[1][1]
        site_base = next((m for label, m, _ in results if label == "python -S -c pass"), float("nan"))
        site_ours = next((m for label, m, _ in results if label == "python -S help.py env --python"), float("nan"))
        print(f"{'command':<36} {'median ms':>10} {'x python':>9} {'x help.py':>10}  answer")
        for label, median, out in results:
            ms = f"{median * 1000:.1f}" if median == median else "-"
            vs_python = f"{median / base:.2f}" if median == median else "-"
            vs_ours = f"{median / ours:.2f}" if median == median else "-"
            print(f"{label:<36} {ms:>10} {vs_python:>9} {vs_ours:>10}  {out[:70]}")
        outside = next(m for label, m, _ in results if label == "help.py -C DIR env --python")
        print(f"\nfrom outside: help.py -C DIR env --python = {outside / base:.2f}x python -c pass")
        print(f"without site: help.py env --python = {site_ours / site_base:.2f}x python -S -c pass")
        print(
            f"{args.runs} runs each on {os.cpu_count()} CPUs; target: help.py within 1.3x of python -c pass, peers >= 3x help.py"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
