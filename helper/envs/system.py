"""Interpreters on PATH (and the usual system locations), with pyenv shims resolved by reading files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from helper.envs import pyenv
from helper.envs.base import Context, Env, short_version

KIND = "system"
PRIORITY = 90
NAME = re.compile(r"^python(\d(\.\d+)?)?$")
EXTRA_DIRS = ("/usr/local/bin", "/usr/bin", "/opt/homebrew/bin")


def _version(ctx: Context, exe: Path) -> str | None:
    """X.Y from the name (python3.12), the link's target, or a lib/pythonX.Y next to it."""
    real = Path(os.path.realpath(exe))
    for candidate in (exe.name, real.name):
        found = short_version(candidate)
        if found:
            return found
    for name in ctx.listdir(real.parent.parent / "lib"):
        if re.fullmatch(r"python\d\.\d+", name):
            return name[6:]
    return None


def detect(ctx: Context) -> list[Env]:
    shims = pyenv.pyenv_root(ctx) / "shims"
    versions = pyenv.pyenv_root(ctx) / "versions"
    dirs = [ctx.sys(p) for p in (ctx.env("PATH") or "").split(os.pathsep) if p]
    dirs += [ctx.sys(p) for p in EXTRA_DIRS]
    seen: set[str] = set()
    found: list[Env] = []
    for rank, directory in enumerate(dict.fromkeys(dirs)):
        if directory == shims:
            exe, version, source = pyenv.resolve_shim(ctx)
            if exe is not None and version == "system":
                continue  # the shim hands over to the next python on PATH, found below
            if exe is not None and str(exe) not in seen:
                seen.add(str(exe))
                found.append(Env(kind=KIND, name=f"python (pyenv shim -> {version})", prefix=str(exe.parent.parent),
                                 executable=str(exe), version=short_version(version) or _version(ctx, exe),
                                 manager="pyenv", confidence=0.3 - 0.001 * rank,
                                 reason=f"first python on PATH is a pyenv shim; {source} selects {version}"))  # fmt: skip
            continue
        if versions in directory.parents or ctx.exists(directory.parent / "pyvenv.cfg"):
            continue  # a pyenv version's or a venv's bin/ on PATH: their detectors report it
        for name in ctx.listdir(directory):
            if not NAME.match(name):
                continue
            exe = directory / name
            real = os.path.realpath(exe)
            if real in seen or not ctx.is_file(exe) or not os.access(exe, os.X_OK):
                continue
            seen.add(real)
            on_path = rank < len(dirs) - len(EXTRA_DIRS)
            found.append(Env(kind=KIND, name=name, prefix=str(Path(real).parent.parent), executable=str(exe),
                             version=_version(ctx, exe), manager=None, confidence=(0.25 if on_path else 0.15) - 0.001 * rank,
                             reason=f"{name} on PATH in {directory}" if on_path else f"{name} in {directory}"))  # fmt: skip
    return found
