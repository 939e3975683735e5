"""What a sandboxed command may touch, and how each backend is told so.

A Policy is backend-neutral; `bwrap_argv` and `firejail_argv` turn it into the
command line of bubblewrap or firejail. The agent plugin reuses this to run
generated code.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from helper.errors import HelpError

BACKENDS = ("bwrap", "firejail")
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TERM", "TZ", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")


@dataclass
class Policy:
    workdir: Path  # the command starts here
    readonly: list[Path] = field(default_factory=list)  # visible, not writable
    writable: list[Path] = field(default_factory=list)  # visible and writable
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra variables set inside


def choose_backend(preferred: str | None = None) -> tuple[str, str]:
    """(name, path) of the backend to use: `preferred` if given, else the first installed."""
    names = [preferred] if preferred else list(BACKENDS)
    for name in names:
        path = shutil.which(name)
        if path:
            return name, path
    if preferred:
        raise HelpError(
            f"sandbox backend {preferred} is not installed",
            f"sudo apt-get install {'bubblewrap' if preferred == 'bwrap' else preferred}",
        )
    raise HelpError("no sandbox backend installed (bubblewrap or firejail)", "sudo apt-get install bubblewrap")


def sandbox_env(policy: Policy) -> dict[str, str]:
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    env["HOME"] = "/tmp"
    env.update(policy.env)
    return env


def bwrap_argv(binary: str, policy: Policy, command: list[str]) -> list[str]:
    argv = [binary, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not policy.network:
        argv.append("--unshare-net")
    # The whole system read-only, then private /tmp, /dev, /proc.
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in policy.readonly:
        argv += ["--ro-bind", str(path), str(path)]
    for path in policy.writable:
        argv += ["--bind", str(path), str(path)]
    argv += ["--clearenv"]
    for key, value in sandbox_env(policy).items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", str(policy.workdir), "--", *command]
    return argv


def firejail_argv(binary: str, policy: Policy, command: list[str]) -> list[str]:
    argv = [binary, "--quiet", "--noprofile", "--read-only=/", "--caps.drop=all", "--nonewprivs"]
    if not policy.network:
        argv.append("--net=none")
    # /tmp is private either way; paths that live under it are whitelisted into it.
    under_tmp = [p for p in (policy.workdir, *policy.readonly, *policy.writable) if Path("/tmp") in p.parents]
    if under_tmp:
        argv += [f"--whitelist={p}" for p in under_tmp] + ["--read-write=/tmp"]
    else:
        argv.append("--private-tmp")
    argv += [f"--read-only={p}" for p in policy.readonly]
    argv += [f"--read-write={p}" for p in policy.writable]
    # The environment itself is cleared by the caller (see sandbox_env).
    argv += ["--", *_cd(policy.workdir, command)]
    return argv


def _cd(workdir: Path, command: list[str]) -> list[str]:
    # firejail has no --chdir for arbitrary paths without a profile: start a shell there.
    return ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(workdir), *command]


def wrap(policy: Policy, command: list[str], backend: str | None = None) -> list[str]:
    """The full argv running `command` under `policy` with the chosen backend."""
    name, binary = choose_backend(backend)
    if name == "bwrap":
        return bwrap_argv(binary, policy, command)
    return firejail_argv(binary, policy, command)
