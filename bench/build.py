"""Benchmark: `help.py build` against `python -m build` and `uv build`, cold and unchanged tree.

Builds the same small project (sdist + wheel) with each tool, once per backend
(default: setuptools and uv's own uv_build, side by side). Cold:
no help.py state and no build environment (downloads stay cached for every
tool). Unchanged: the same command again on an untouched tree. Prints medians
and each tool's ratio to help.py.

    python bench/build.py [--runs 5] [--backend setuptools uv_build hatchling]
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
BACKENDS = {
    "hatchling": ('requires = ["hatchling"]', 'build-backend = "hatchling.build"'),
    "setuptools": ('requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"'),
    "uv_build": ('requires = ["uv_build>=0.8,<0.20"]', 'build-backend = "uv_build"'),
}


def make_project(base: Path, backend: str) -> Path:
    root = base / f"project-{backend}"
    (root / "src" / "benchpkg").mkdir(parents=True)
    requires, build_backend = BACKENDS[backend]
    (root / "pyproject.toml").write_text(
        f'[build-system]\n{requires}\n{build_backend}\n\n[project]\nname = "benchpkg"\nversion = "1.0.0"\ndescription = "bench"\nreadme = "README.md"\n'
    )
    (root / "README.md").write_text("# bench\n")
    for i in range(40):
        (root / "src" / "benchpkg" / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n" * 20)
    (root / "src" / "benchpkg" / "__init__.py").write_text('__version__ = "1.0.0"\n')
    (root / ".gitignore").write_text("dist/\n")
    git = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True, env=git)
    return root


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def bench(base: Path, backend: str, runs: int, tools: Path, env: dict[str, str], uv: str | None) -> None:
    root = make_project(base, backend)
    help_cmd = [sys.executable, str(ROOT / "help.py"), "build", "-q"]
    peers: dict[str, list[str]] = {"help.py build": help_cmd}
    build_cmd = [str(tools / "bin" / "python"), "-m", "build", "--outdir", "dist-build"]
    if uv:
        build_cmd.append("--installer=uv")
    peers["python -m build"] = build_cmd
    if uv:
        peers["uv build"] = [uv, "build", "-q", "--out-dir", "dist-uv"]
    # Warm every download cache and the pyc files once, outside the timings.
    for cmd in peers.values():
        timed(cmd, root, env)
    results: dict[str, tuple[float, float]] = {}
    for name, cmd in peers.items():
        cold, warm = [], []
        for _ in range(runs):
            xdg = base / f"xdg-{name.split()[0]}"
            shutil.rmtree(xdg, ignore_errors=True)
            shutil.rmtree(root / ".help", ignore_errors=True)
            run_env = {
                **env,
                "XDG_CACHE_HOME": str(xdg),
                "UV_CACHE_DIR": env.get("UV_CACHE_DIR") or os.path.expanduser("~/.cache/uv"),
            }
            cold.append(timed(cmd, root, run_env))
            warm.append(timed(cmd, root, run_env))
        results[name] = (statistics.median(cold), statistics.median(warm))
    ours_cold, ours_warm = results["help.py build"]
    print(f"\nbuild of a {backend} project (sdist + wheel), median of {runs} runs\n")
    header = f"{'tool':<18} {'cold (s)':>9} {'unchanged (s)':>14} {'cold ratio':>11} {'unchanged ratio':>16}"
    print(header)
    print("-" * len(header))
    for name, (cold, warm) in results.items():
        print(f"{name:<18} {cold:>9.3f} {warm:>14.3f} {cold / ours_cold:>10.2f}x {warm / ours_warm:>15.2f}x")
    target = "met" if ours_warm < 0.15 else "missed"
    print(f"target: unchanged-tree build under 0.15 s: {target} ({ours_warm:.3f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", nargs="+", choices=list(BACKENDS), default=["setuptools", "uv_build"])
    args = parser.parse_args()
    uv = shutil.which("uv")
    base = Path(tempfile.mkdtemp(prefix="help-bench-build-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELP_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["NO_COLOR"] = "1"
        # A venv holding `build` for the peer.
        tools = base / "tools"
        if uv:
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(tools)], check=True)
            subprocess.run([uv, "pip", "install", "-q", "--python", str(tools / "bin" / "python"), "build"], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
            subprocess.run([str(tools / "bin" / "python"), "-m", "pip", "install", "-q", "build"], check=True)
        for backend in args.backend:
            bench(base, backend, args.runs, tools, env, uv)
        floor = statistics.median(timed([sys.executable, "-c", "pass"], base, env) for _ in range(args.runs))
        start = statistics.median(
            timed([sys.executable, str(ROOT / "help.py"), "--version"], base, env) for _ in range(args.runs)
        )
        print(f"\n{'(python -c pass)':<18} {'':>9} {floor:>14.3f}")
        print(f"{'(help.py --version)':<18} {'':>9} {start:>14.3f}")
        print("\nratio = tool time / help.py time (above 1: help.py is faster)")
        print("the last two rows are the floor on this machine right now: interpreter start, and help.py's own start")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
