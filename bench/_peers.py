"""Shared by the benchmarks: time commands side by side, install peer tools, print ratios."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS_VENV = ROOT / ".help" / "bench-peers"
CLEAN_VENV = ROOT / ".help" / "bench-python"


def clean_python() -> str:
    """An interpreter as a user's plain Python is: this one's version, with nothing in site-packages.

    The machine's base interpreter may carry `.pth` files that import packages at every
    start (a CA-injection hook here costs ~60 ms); peers installed in a venv never pay
    that, so help.py is timed under an empty venv's interpreter too.
    """
    python = CLEAN_VENV / "bin" / "python"
    if not python.exists():
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", "--without-pip", str(CLEAN_VENV)], check=True)
    return str(python)


def compile_sources() -> None:
    """Byte-compile help.py's modules, as an installed tool has them (PYTHONDONTWRITEBYTECODE may be set)."""
    import compileall

    for folder in ("helper", "plugins"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def peers_bin() -> Path:
    return PEERS_VENV / "bin"


def install_peers(packages: Sequence[str]) -> None:
    """Install peer tools (hatch, nox, poetry, ...) into a venv of their own under .help/."""
    python = peers_bin() / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    missing = [p for p in packages if not (peers_bin() / p.split("[")[0].split("=")[0]).exists()]
    if missing:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *missing], check=True)


def find(name: str) -> str | None:
    """A peer's binary: from the bench venv first, then PATH."""
    local = peers_bin() / name
    return str(local) if local.exists() else shutil.which(name)


def time_command(
    argv: Sequence[str], runs: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[float]:
    """Wall-clock seconds of `runs` runs of argv (after one warm-up run)."""
    full_env = {**os.environ, **(env or {})}
    subprocess.run(argv, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.decode()[-500:]}")
    return times


def report(rows: list[tuple[str, list[float] | None]], baseline: str) -> dict[str, float]:
    """Print median/min per command and the ratio of each median to `baseline`'s."""
    medians = {name: statistics.median(times) for name, times in rows if times}
    base = medians[baseline]
    print(f"{'command':<34} {'median ms':>10} {'min ms':>8} {'x ' + baseline:>16}")
    for name, times in rows:
        if not times:
            print(f"{name:<34} {'not installed':>10}")
            continue
        print(f"{name:<34} {medians[name] * 1000:>10.1f} {min(times) * 1000:>8.1f} {medians[name] / base:>16.2f}")
    return medians
