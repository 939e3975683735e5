"""compose side by side on real podman: up-to-healthy and ps, help.py vs podman-compose / bare podman.

1. `help.py compose up --wait` (help.py runs the healthchecks itself) against
   `podman-compose up -d` followed by polling `podman healthcheck run` until every
   service with a healthcheck answers 0.
2. `help.py --json compose ps` (its fast start path, and the full CLI with HELP_NO_FAST=1) against
   `podman ps -a --filter label=... --format json` (target: within 1.5x of the bare engine call), in
   wall time and in CPU time (user + system of the process tree, getrusage), interleaved run by run.

The image is made here by `podman import` of a busybox-static rootfs (nothing is pulled).

    python bench/compose.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._peers import clean_python, compile_sources, report  # noqa: E402

IMAGE = "localhost/help-compose-bench:1"
COMPOSE = """name: {name}
services:
  web:
    image: {image}
    command: [sh, -c, 'echo hi > /tmp/index.html; httpd -f -p 80 -h /tmp']
    ports: ["127.0.0.1:{port}:80"]
    depends_on: [worker]
  worker:
    image: {image}
    command: sh -c 'sleep 0.3; touch /tmp/ok; while true; do sleep 1; done'
    healthcheck:
      test: [CMD, test, -f, /tmp/ok]
      interval: 1s
      retries: 3
"""


def make_image(folder: Path) -> None:
    tar_path = folder / "rootfs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in ("bin", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for tool in ("sh", "httpd", "sleep", "touch", "test", "echo", "true"):
            link = tarfile.TarInfo(f"bin/{tool}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    subprocess.run(["podman", "import", str(tar_path), IMAGE], check=True, capture_output=True)


def clean(name: str) -> None:
    ids = subprocess.run(
        ["podman", "ps", "-aq", "--filter", f"label=help.compose.project={name}"], capture_output=True, text=True
    ).stdout.split()
    ids += subprocess.run(
        ["podman", "ps", "-aq", "--filter", f"label=io.podman.compose.project={name}"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *ids], capture_output=True)
    subprocess.run(["podman", "pod", "rm", "-f", f"pod_{name}"], capture_output=True)
    subprocess.run(["podman", "network", "rm", "-f", f"{name}_default"], capture_output=True)


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr[-400:]}")
    return time.perf_counter() - started


def podman_compose_up(cwd: Path, name: str) -> float:
    started = time.perf_counter()
    subprocess.run(["podman-compose", "up", "-d"], cwd=cwd, capture_output=True, check=True)
    deadline = started + 60
    while time.perf_counter() < deadline:
        probe = subprocess.run(["podman", "healthcheck", "run", f"{name}_worker_1"], capture_output=True)
        if probe.returncode == 0:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError("podman-compose: worker never healthy")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int, cwd: Path
) -> dict[str, tuple[list[float], list[float]]]:
    """name -> (wall seconds, CPU seconds) of each command, run in turn `runs` times after a warm-up each."""
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for n in range(runs + 1):
        for name, (argv, env) in commands.items():
            cpu, started = _cpu(), time.perf_counter()
            done = subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(argv)}: {done.stderr.decode()[-400:]}")
            if n:
                found[name][0].append(time.perf_counter() - started)
                found[name][1].append(_cpu() - cpu)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("podman"):
        print("podman is not installed")
        return 1
    compile_sources()  # as an installed tool has them
    # An interpreter with nothing in site-packages, as bench/sandbox.py uses: the dev venv's .pth files
    # (editable install, distutils hook) would add their own start-up time to help.py's figures.
    help_py = [clean_python(), str(ROOT / "help.py")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_image(folder)
        ours, theirs = folder / "benchours", folder / "benchtheirs"  # podman-compose names projects by folder
        for path, name, port in ((ours, "benchours", 18391), (theirs, "benchtheirs", 18392)):
            path.mkdir()
            (path / "pyproject.toml").write_text("[project]\nname = 'b'\nversion = '0'\n")
            (path / "compose.yaml").write_text(COMPOSE.format(name=name, image=IMAGE, port=port))
        up_ours: list[float] = []
        up_theirs: list[float] = []
        have_pc = shutil.which("podman-compose") is not None
        try:
            for _ in range(args.rounds):  # interleaved rounds
                clean("benchours")
                up_ours.append(timed([*help_py, "compose", "up", "--wait"], ours))
                if have_pc:
                    clean("benchtheirs")
                    up_theirs.append(podman_compose_up(theirs, "benchtheirs"))
            print("up until every service is healthy:")
            report([("help.py compose up --wait", up_ours), ("podman-compose up -d + poll", up_theirs or None)],
                   "help.py compose up --wait")  # fmt: skip
            print()
            bare = "podman ps --format json"
            measured = interleaved(
                {
                    bare: (
                        ["podman", "ps", "-a", "--filter", "label=help.compose.project=benchours", "--format", "json"],
                        {},
                    ),
                    "help.py --json compose ps": ([*help_py, "--json", "compose", "ps"], {}),
                    "help.py ... (full CLI)": ([*help_py, "--json", "compose", "ps"], {"HELP_NO_FAST": "1"}),
                },
                args.rounds * 5,
                ours,
            )
            print("ps, wall:")
            report([(name, walls) for name, (walls, _) in measured.items()], bare)
            print("ps, CPU (user+system):")
            report([(name, cpus) for name, (_, cpus) in measured.items()], bare)
            ratio = statistics.median(measured["help.py --json compose ps"][0]) / statistics.median(measured[bare][0])
            print(
                f"compose ps / podman ps (wall): {ratio:.2f}x (target <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})"
            )
        finally:
            clean("benchours")
            clean("benchtheirs")
            subprocess.run(["podman", "rmi", "-f", IMAGE], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
