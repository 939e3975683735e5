"""The integrator: files the agents added moved where the project's conventions put them; dependencies added.

Dependencies the coder or tester asked for (the add_dependency tool, stored
as tool calls, so a resumed task still has them) are added with `help.py
install REQ [--dev]` in the task's worktree; the manifests it edits are the
ones agents may not write. The install runs in the sandbox too, since a
package's build script is code nobody reviewed: with the network (it needs
the package index) but only the worktree and the package managers' caches
writable, the managers' settings (PIP_*, UV_*, ..., proxies, certificates,
their config folders) shown to it, and larger limits than a test run.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.agent import tools, workspace
from plugins.agent.context import Conventions

HELP = Path(__file__).resolve().parents[2] / "help.py"
INSTALL_TIMEOUT = 900.0


def added_files(worktree: Path, base: str) -> list[str]:
    workspace.git(worktree, "add", "-A")
    out = workspace.git(worktree, "diff", "--cached", "--name-only", "--diff-filter=A", base).stdout
    return [line for line in out.splitlines() if line]


def place(worktree: Path, base: str, conventions: Conventions) -> list[tuple[str, str]]:
    """Move each added file that is out of place (a test beside the code, a module outside src/); the moves."""
    moves = []
    with workspace.LOCK:  # sub-tasks in threads share the worktree
        for rel in added_files(worktree, base):
            target = conventions.place(rel)
            if target == rel or (worktree / target).exists():
                continue
            (worktree / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(worktree / rel, worktree / target)
            moves.append((rel, target))
        if moves:
            workspace.git(worktree, "add", "-A")
    return moves


def requested(calls: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The dependencies asked for in the task's accepted add_dependency calls, in order, once each."""
    found: dict[str, bool] = {}
    for call in calls:
        if call["name"] != "add_dependency" or not call["ok"]:
            continue
        try:
            args = json.loads(call["arguments"]) if isinstance(call["arguments"], str) else call["arguments"]
        except ValueError:
            continue
        requirement = str(args.get("requirement", "")).strip()
        if tools.REQUIREMENT.match(requirement):
            found[requirement] = found.get(requirement, False) or bool(args.get("dev", False))
    return list(found.items())


# What the managers read from the environment: their settings, the proxies and the certificates.
SETTINGS_PREFIXES = ("PIP_", "UV_", "POETRY_", "PDM_", "PIPENV_", "HATCH_", "VIRTUALENV_")
NETWORK_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)
# Cache variable -> its folder under ~/.cache: writable inside, so installs stay fast across tasks.
CACHES = {"PIP_CACHE_DIR": "pip", "UV_CACHE_DIR": "uv", "POETRY_CACHE_DIR": "pypoetry", "PDM_CACHE_DIR": "pdm"}
CONFIGS = ("pip", "uv", "pypoetry", "pdm")  # the managers' folders under XDG_CONFIG_HOME, shown read-only
# An install builds sdists: more memory, CPU time, disk and processes than a test run is given.
LIMITS = {"mem": 8 * 2**30, "cpu": int(INSTALL_TIMEOUT), "disk": 4 * 2**30, "procs": 512}


@dataclass
class Install:
    """`help.py install REQ` as a sandboxed command: its argv and Engine.sandboxed's options for it."""

    command: list[str]
    options: dict[str, Any] = field(default_factory=dict)


def install(worktree: Path, requirement: str, dev: bool, environ: dict[str, str] | None = None) -> Install:
    """`help.py install REQ [--dev]` in the worktree (its own environment and manifests, not the user's)."""
    environ = dict(os.environ if environ is None else environ)
    command = [sys.executable, str(HELP), "--json", "install", requirement, *(["--dev"] if dev else [])]
    env = {"HELP_PROJECT": str(worktree), "NO_COLOR": "1", "PATH": environ.get("PATH", "")}
    for name, value in environ.items():
        if name.startswith(SETTINGS_PREFIXES) or name.upper() in NETWORK_ENV:
            env[name] = value
    home = Path(environ.get("HOME") or Path.home())
    readonly: list[Path] = []
    writable: list[Path] = []
    cache_home = Path(environ.get("XDG_CACHE_HOME") or home / ".cache")
    for name, folder in CACHES.items():
        path = Path(env.get(name) or cache_home / folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue  # no cache: the manager uses one in the sandbox's private /tmp
        env[name] = str(path)
        writable.append(path)
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    env["XDG_CONFIG_HOME"] = str(config_home)
    readonly += [config_home / name for name in CONFIGS if (config_home / name).is_dir()]
    for name in ("PIP_CONFIG_FILE", "UV_CONFIG_FILE", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        if env.get(name) and os.path.exists(env[name]) and env[name] != os.devnull:
            readonly.append(Path(env[name]))
    readonly += _program_dirs(env["PATH"], home)
    options = {"env": env, "readonly": readonly, "writable": writable, "network": True}
    return Install(command, {**options, "timeout": INSTALL_TIMEOUT, "limits": LIMITS})


def _program_dirs(path: str, home: Path) -> list[Path]:
    """The PATH folders outside the system ones, where the managers (uv, poetry, ...) may live; never a whole home.

    A folder of pyenv shims brings its pyenv root (the shims run `$PYENV_ROOT/libexec/pyenv exec NAME`).
    """
    system = ("/usr", "/bin", "/sbin", "/lib")
    homes = {home.resolve(), Path("/home"), Path("/root"), Path("/")}
    found: list[Path] = []
    for entry in path.split(os.pathsep):
        folder = Path(entry)
        if not folder.is_absolute() or not folder.is_dir() or str(folder).startswith(system):
            continue
        real = folder.resolve()
        if real in homes or real.parent == Path("/home"):
            continue
        if real.name == "shims" and (real.parent / "libexec" / "pyenv").exists() and real.parent not in homes:
            folder = real.parent
        found.append(folder)
    return list(dict.fromkeys(found))
