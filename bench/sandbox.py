"""Start-to-exit of `help.py sandbox run -- true` per backend, against the bare backend and bare Python.

    python bench/sandbox.py [--runs 10] [--backends bwrap,firejail,podman] [--gap 0.1]

For each backend: `help.py sandbox run --backend B -- true` on its fast start
path (helper.fast) and on the full CLI (HELP_NO_FAST=1, what every run took
before the fast path); the same backend started by hand with exactly the argv
help.py builds (prlimit, cgroup join, seccomp fd included); and `python -c pass`
unsandboxed. Prints wall medians, ratios and the milliseconds help.py adds, and
the same for CPU time (user + system of the whole process tree, from
getrusage: steadier than wall time on a shared machine); `api.run` in process
shows the sandbox code's own share. Target: under 30 ms added (wall).

Every timed run, of every row, starts after the same idle gap (--gap, 0.1 s).
As root the launcher joins a fresh pids cgroup, and on cgroup v1 the first
cgroup.procs write after an idle moment waits for an RCU grace period (5-16 ms
on this host's kernel; a second write right after costs 0.2 ms). Runs started
back to back, as a loop around the bare backend does, skip that wait, while
anything that starts an interpreter first pays it: the gap puts every row in
the state a user's run is in. `--gap 0` shows the back-to-back figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _peers import ROOT, clean_python, compile_sources, report

sys.path.insert(0, str(ROOT))

CPU: dict[str, list[float]] = {}  # row name -> CPU seconds of each run
GAP = [0.1]  # seconds idle before each timed run (--gap)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(
    argv: list[str], runs: int, name: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[float]:
    """Wall seconds of `runs` runs (after a warm-up); their CPU seconds go to CPU[name]."""
    full_env = {**os.environ, **(env or {})}
    subprocess.run(argv, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls, cpus = [], []
    for _ in range(runs):
        time.sleep(GAP[0])
        cpu, started = _cpu(), time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.decode()[-500:]}")
    CPU[name] = cpus
    return walls


def time_bare(backend: str, runs: int, workdir: Path, name: str, project: Path | None = None) -> list[float]:
    """The backend's own argv for `true`, as help.py would start it, timed without help.py.

    project: run in it, shown read-only, as `sandbox run` in a project does (more mounts).
    """
    from plugins.sandbox import backends, limits, seccomp
    from plugins.sandbox.policy import Policy, sandbox_env

    policy = Policy(workdir=project or workdir, readonly=[str(project)] if project else [])
    times, cpus = [], []
    for n in range(runs + 1):
        launch = backends.build(backend, policy, ["true"])
        cgroup = (
            limits.PidsCgroup.create(policy.procs, memory=policy.mem)
            if launch.rlimits_outside and os.geteuid() == 0
            else None
        )
        argv = limits.wrap(launch.argv, policy, cgroup) if launch.rlimits_outside else launch.argv
        time.sleep(GAP[0])
        cpu, started = _cpu(), time.perf_counter()
        subprocess.run(
            argv,
            env={**sandbox_env(policy), **launch.env},
            pass_fds=launch.pass_fds,
            cwd=policy.workdir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if n:  # the first run warms caches
            times.append(time.perf_counter() - started)
            cpus.append(_cpu() - cpu)
        for fd in launch.pass_fds:
            os.close(fd)
        for path in launch.temp_files:
            os.unlink(path)
        if cgroup is not None:
            cgroup.close()
    del seccomp
    CPU[name] = cpus
    return times


def time_api(backend: str, runs: int, workdir: Path) -> list[float]:
    """api.run(["true"]) inside this process: the sandbox code's own cost, without interpreter or CLI start."""
    from plugins.sandbox import api
    from plugins.sandbox.policy import Policy

    times = []
    for n in range(runs + 1):
        time.sleep(GAP[0])
        started = time.perf_counter()
        api.run(["true"], Policy(workdir=workdir), backend=backend)
        if n:
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backends", default="bwrap,firejail,podman")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds idle before each timed run")
    args = parser.parse_args()
    GAP[0] = args.gap
    compile_sources()
    python = clean_python()
    help_py = str(ROOT / "help.py")
    with tempfile.TemporaryDirectory(prefix="help-bench-sandbox-") as tmp:
        work = Path(tmp)
        project = work / "project"  # where the run is journaled, as in real use
        project.mkdir()
        (project / "pyproject.toml").write_text("[project]\nname = 'b'\nversion = '0'\n")
        old = time.time() - 60  # not fresh: the configuration cache may keep it
        os.utime(project / "pyproject.toml", (old, old))
        rows: list[tuple[str, list[float] | None]] = [
            ("python -c pass", time_command([python, "-c", "pass"], args.runs, "python -c pass")),
            ("help.py --version (core start)", time_command([python, help_py, "--version"], args.runs, "--version")),
        ]
        added: dict[str, tuple[float, float]] = {}  # row -> (wall ms, CPU ms) added to the bare backend
        for backend in args.backends.split(","):
            if not shutil.which(backend):
                rows.append((f"{backend}: not installed", None))
                continue
            rows.append((f"api.run ({backend}, in process)", time_api(backend, args.runs, work)))
            argv = [python, help_py, "sandbox", "run", "--backend", backend, "--", "true"]
            for where, cwd in (("", work), (", in a project", project)):
                bare_name = f"{backend}{where} bare"
                bare = time_bare(backend, args.runs, work, bare_name, project if where else None)
                rows.append((bare_name, bare))
                for path, env in (("fast", {}), ("full CLI", {"HELP_NO_FAST": "1"})):
                    name = f"help.py sandbox run ({backend}{where}, {path})"
                    rows.append((name, time_command(argv, args.runs, name, cwd=cwd, env=env)))
                    added[name] = (
                        (statistics.median(rows[-1][1] or [0]) - statistics.median(bare)) * 1000,
                        (statistics.median(CPU[name]) - statistics.median(CPU[bare_name])) * 1000,
                    )
        print("wall:")
        report(rows, "python -c pass")
    print()
    print(f"{'CPU (user+system)':<50} {'median ms':>10} {'min ms':>8}")
    for name, cpus in CPU.items():
        print(f"{name:<50} {statistics.median(cpus) * 1000:>10.1f} {min(cpus) * 1000:>8.1f}")
    print()
    for name, (wall, cpu) in added.items():
        verdict = "met" if wall < 30 else "MISSED"
        print(f"{name}: adds {wall:.1f} ms wall (target < 30 ms: {verdict}), {cpu:.1f} ms CPU to the bare backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
