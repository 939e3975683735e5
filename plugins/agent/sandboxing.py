"""Run model-written code only through the sandbox plugin: the worktree the only writable path, no network.

Uses the sandbox's Python API (`api("sandbox").run`) when it offers one, else
its policy module found through the plugin registry plus helper.proc, with a
pids cgroup against fork bombs. With no sandbox at all it refuses: nothing the
model wrote ever runs unsandboxed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from helper import proc
from helper.errors import HelpError

PROCS = 128  # processes and threads a sandboxed command may have
NO_SANDBOX = HelpError(
    "no sandbox available: model-written code is never run outside one",
    "install bubblewrap (sudo apt-get install bubblewrap) and make sure the sandbox plugin is enabled",
)

# stderr text -> the violation it shows (the sandbox stopped the attempt)
SIGNS = (
    ("Read-only file system", "write outside the worktree denied"),
    (".ssh", "read of ~/.ssh denied"),
    ("Network is unreachable", "network connection denied"),
    ("Cannot assign requested address", "network connection denied"),
    ("Connection refused", "network connection denied"),
    ("Resource temporarily unavailable", "process limit hit (fork bomb stopped)"),
)


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    duration: float
    backend: str
    violations: list[str] = field(default_factory=list)
    limit_hit: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.violations and not self.limit_hit


def _sandbox_api() -> ModuleType | None:
    from helper import plugins

    try:
        module = plugins.api("sandbox")
    except HelpError:
        return None
    return module if hasattr(module, "run") and hasattr(module, "Policy") else None


def _policy_module() -> ModuleType:
    """The sandbox plugin's policy module, found through the registry; NO_SANDBOX when it cannot run."""
    from helper import plugins

    for plugin in plugins.discover():
        if plugin.name != "sandbox":
            continue
        if not plugins.status(plugin).available:
            raise NO_SANDBOX
        package = next(iter(plugin.commands.values()))[0].rsplit(".", 1)[0]
        try:
            return importlib.import_module(package + ".policy")
        except ImportError:
            raise NO_SANDBOX from None
    raise NO_SANDBOX


def available() -> bool:
    try:
        return _sandbox_api() is not None or bool(_policy_module())
    except HelpError:
        return False


def run(
    command: list[str],
    worktree: Path,
    *,
    readonly: list[Path] | None = None,
    writable: list[Path] | None = None,
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    network: bool = False,
    limits: dict[str, int] | None = None,
) -> Outcome:
    """`command` in `worktree` under the sandbox: writes only there (and `writable`), no network, few processes.

    `network` lets it reach the network (only `help.py install`, which needs the package index, asks for it);
    `limits` raises the policy's mem / cpu / disk / procs for a command known to need more (an install).
    """
    worktree = worktree.resolve()
    readonly = [p.resolve() for p in (readonly or [])]
    writable = [worktree, *(p.resolve() for p in (writable or []))]
    prefix = Path(sys.base_prefix).resolve()
    if prefix not in readonly:
        readonly.append(prefix)
    env = dict(env or {})
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    extra: dict[str, Any] = {"network": network, **(limits or {})}
    api = _sandbox_api()
    if api is not None:
        return _run_api(api, command, worktree, readonly, writable, timeout, env, extra)
    return _run_fallback(_policy_module(), command, worktree, readonly, writable, timeout, env, extra)


ERRNO = re.compile(r"\[Errno (\d+)\] [^:\n]+: '(/[^'\n]+)'")


def _judge(output: str, given: list[str] | None = None, worktree: Path | None = None) -> list[str]:
    """The violations the command's output shows the sandbox stopped (plus those the sandbox reported)."""
    found = list(given or [])
    for sign, violation in SIGNS:
        if sign in output and violation not in found:
            found.append(violation)
    for errno, path in ERRNO.findall(output):  # a path outside the worktree that the sandbox hid or locked
        if worktree is not None and (Path(path) == worktree or worktree in Path(path).parents):
            continue
        if ".ssh" in path:
            continue
        violation = (
            f"access outside the worktree denied: {path}" if errno == "2" else "write outside the worktree denied"
        )
        if violation not in found:
            found.append(violation)
    return found


def _run_api(
    api: ModuleType,
    command: list[str],
    worktree: Path,
    readonly: list[Path],
    writable: list[Path],
    timeout: float,
    env: dict[str, str],
    extra: dict[str, Any],
) -> Outcome:
    fields: dict[str, Any] = {"workdir": worktree, "readonly": readonly, "writable": writable, "network": False}
    fields["env"] = env
    names = getattr(api.Policy, "__fields__", None) or getattr(api.Policy, "__dataclass_fields__", {})
    if "timeout" in names:
        fields["timeout"] = timeout
    if "procs" in names:
        fields["procs"] = PROCS
    fields.update({k: v for k, v in extra.items() if k in names})
    result = api.run(command, api.Policy(**fields))
    violations = _judge(result.stdout + result.stderr, list(getattr(result, "violations", []) or []), worktree)
    limit = getattr(result, "limit_hit", None)
    if limit == "procs" and "process limit hit (fork bomb stopped)" not in violations:
        violations.append("process limit hit (fork bomb stopped)")
    return Outcome(
        result.exit_code,
        result.stdout,
        result.stderr,
        float(getattr(result, "duration", 0.0)),
        str(getattr(result, "backend", "sandbox")),
        violations,
        limit,
    )


def _hide_homes(argv: list[str]) -> list[str]:
    """Cover home directories (keys, tokens) in a bwrap argv, before the policy's own binds re-expose paths."""
    if not argv or not argv[0].endswith("bwrap") or "/tmp" not in argv:
        return argv
    at = argv.index("/tmp") + 1
    cover = []
    for home in ("/root", "/home"):
        if os.path.isdir(home):
            cover += ["--tmpfs", home]
    return argv[:at] + cover + argv[at:]


def _pids_cgroup() -> Path | None:
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
            continue
        path = base / f"help-agent-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(PROCS))
            return path
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
    return None


def _run_fallback(
    policy_module: ModuleType,
    command: list[str],
    worktree: Path,
    readonly: list[Path],
    writable: list[Path],
    timeout: float,
    env: dict[str, str],
    extra: dict[str, Any],
) -> Outcome:
    policy = policy_module.Policy(
        workdir=worktree, readonly=readonly, writable=writable, env=env, **{"network": False, **extra}
    )
    try:
        argv = _hide_homes(list(policy_module.wrap(policy, command)))
    except HelpError:
        raise NO_SANDBOX from None
    backend = Path(argv[0]).name
    cgroup = _pids_cgroup()
    if cgroup is not None:  # the launcher joins the cgroup, then becomes the sandbox
        join = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        argv = ["/bin/sh", "-c", join, str(cgroup), *argv]
    try:
        result = proc.run(argv, env=policy_module.sandbox_env(policy), timeout=timeout, grace=1.0)
    finally:
        limit_hit = None
        if cgroup is not None:
            limit_hit = _release(cgroup)
    violations = _judge(result.stdout + result.stderr, None, worktree)
    if limit_hit and "process limit hit (fork bomb stopped)" not in violations:
        violations.append("process limit hit (fork bomb stopped)")
    if result.timed_out:
        limit_hit = limit_hit or "timeout"
    return Outcome(
        124 if result.timed_out else result.returncode,
        result.stdout,
        result.stderr,
        result.duration,
        backend,
        violations,
        limit_hit,
    )


def _release(cgroup: Path) -> str | None:
    """Kill what is left in the cgroup, remove it; 'procs' when its limit was reached."""
    import signal
    import time

    hit = None
    with contextlib.suppress(OSError, ValueError):
        events = (cgroup / "pids.events").read_text() if (cgroup / "pids.events").exists() else ""
        if any(line.split()[-1] != "0" for line in events.splitlines() if line.startswith("max")):
            hit = "procs"
    for _ in range(50):
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    with contextlib.suppress(OSError):
        cgroup.rmdir()
    return hit
