"""Start-to-exit of `help.py sandbox run -- true` per backend, against the bare backend and bare Python.

    python bench/sandbox.py [--runs 10] [--backends bwrap,firejail,podman]

For each backend: `help.py sandbox run --backend B -- true`; the same backend
started by hand with exactly the argv help.py builds (prlimit, cgroup join,
seccomp fd included); and `python -c pass` unsandboxed. Prints medians,
ratios and the milliseconds help.py adds; `api.run` in process shows the
sandbox code's own share (no interpreter or CLI start). Target: under 30 ms added.
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

from _peers import ROOT, clean_python, compile_sources, report, time_command

sys.path.insert(0, str(ROOT))


def time_bare(backend: str, runs: int, workdir: Path) -> list[float]:
    """The backend's own argv for `true`, as help.py would start it, timed without help.py."""
    from plugins.sandbox import backends, limits, seccomp
    from plugins.sandbox.policy import Policy, sandbox_env

    policy = Policy(workdir=workdir)
    times = []
    for n in range(runs + 1):
        launch = backends.build(backend, policy, ["true"])
        cgroup = limits.PidsCgroup.create(policy.procs) if launch.rlimits_outside and os.geteuid() == 0 else None
        argv = limits.wrap(launch.argv, policy, cgroup) if launch.rlimits_outside else launch.argv
        started = time.perf_counter()
        subprocess.run(
            argv,
            env={**sandbox_env(policy), **launch.env},
            pass_fds=launch.pass_fds,
            cwd=workdir,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if n:  # the first run warms caches
            times.append(time.perf_counter() - started)
        for fd in launch.pass_fds:
            os.close(fd)
        for path in launch.temp_files:
            os.unlink(path)
        if cgroup is not None:
            cgroup.close()
    del seccomp
    return times


def time_api(backend: str, runs: int, workdir: Path) -> list[float]:
    """api.run(["true"]) inside this process: the sandbox code's own cost, without interpreter or CLI start."""
    from plugins.sandbox import api
    from plugins.sandbox.policy import Policy

    times = []
    for n in range(runs + 1):
        started = time.perf_counter()
        api.run(["true"], Policy(workdir=workdir), backend=backend)
        if n:
            times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backends", default="bwrap,firejail,podman")
    args = parser.parse_args()
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
            ("python -c pass", time_command([python, "-c", "pass"], args.runs)),
            ("help.py --version (core start)", time_command([python, help_py, "--version"], args.runs)),
        ]
        added = {}
        for backend in args.backends.split(","):
            if not shutil.which(backend):
                rows.append((f"{backend}: not installed", None))
                continue
            bare = time_bare(backend, args.runs, work)
            ours = time_command(
                [python, help_py, "sandbox", "run", "--backend", backend, "--", "true"], args.runs, cwd=work
            )
            inproc = time_api(backend, args.runs, work)
            rows += [(f"{backend} bare", bare), (f"api.run ({backend}, in process)", inproc)]
            rows.append((f"help.py sandbox run ({backend})", ours))
            in_project = time_command(
                [python, help_py, "sandbox", "run", "--backend", backend, "--", "true"], args.runs, cwd=project
            )
            rows.append((f"help.py sandbox run ({backend}, in a project)", in_project))
            added[backend] = (statistics.median(ours) - statistics.median(bare)) * 1000
            added[f"{backend} (in a project)"] = (statistics.median(in_project) - statistics.median(bare)) * 1000
        report(rows, "python -c pass")
    print()
    for backend, ms in added.items():
        print(
            f"{backend}: help.py adds {ms:.1f} ms to the bare backend (target < 30 ms: {'met' if ms < 30 else 'MISSED'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
