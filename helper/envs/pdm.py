"""PDM projects: .pdm-python (the chosen interpreter), pdm.lock, [tool.pdm], __pypackages__."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from helper.envs.base import Context, Env, missing_env, pyvenv_cfg, rel, short_version, venv_env

KIND = "pdm"
PRIORITY = 30


def hash_path(path: str) -> str:
    """PDM's venv name hash: 8 chars of urlsafe b64 md5 of the project path."""
    return base64.urlsafe_b64encode(hashlib.md5(path.encode(), usedforsecurity=False).digest()).decode()[:8]


def venvs_location(ctx: Context) -> Path:
    if ctx.env("PDM_VENV_LOCATION"):
        return ctx.sys(ctx.env("PDM_VENV_LOCATION") or "")
    base = ctx.env("XDG_DATA_HOME")
    return (ctx.sys(base) if base else ctx.home / ".local" / "share") / "pdm" / "venvs"


def detect(ctx: Context) -> list[Env]:
    why = [m for m in ("pdm.lock", ".pdm-python") if ctx.exists(ctx.project / m)]
    if ctx.tool("pdm") is not None:
        why.append("[tool.pdm]")
    if not why:
        return []
    markers = " and ".join(why)
    chosen = (ctx.read_text(ctx.project / ".pdm-python") or "").strip()
    if chosen:
        exe = ctx.sys(chosen)
        prefix = exe.parent.parent
        env = venv_env(ctx, prefix, kind=KIND, manager="pdm", project=str(ctx.project))
        if env is not None:
            env.executable = str(exe)
            env.confidence = 0.96
            env.reason = f"pdm project: {markers} -> {rel(ctx, exe)}"
            if not ctx.exists(exe):
                env.problem = f".pdm-python names {chosen}, which does not exist"
            return [env]
        if ctx.exists(exe):  # a base interpreter, used with __pypackages__ (PEP 582)
            packages = ctx.project / "__pypackages__"
            versions = ctx.listdir(packages)
            return [Env(kind=KIND, name="__pypackages__" if versions else exe.name, prefix=str(packages / versions[-1]) if versions else None,
                        executable=str(exe), version=short_version(versions[-1]) if versions else short_version(exe.name),
                        manager="pdm", project=str(ctx.project), confidence=0.9,
                        reason=f"pdm project: {markers} -> {chosen}" + (" with __pypackages__" if versions else ""))]  # fmt: skip
    local = ctx.project / ".venv"
    if pyvenv_cfg(ctx, local) is not None:
        env = venv_env(ctx, local, kind=KIND, manager="pdm", project=str(ctx.project))
        if env is not None:
            env.confidence = 0.88
            env.reason = f"pdm project: {markers}, in-project {rel(ctx, local)}"
            return [env]
    location = venvs_location(ctx)
    stem = f"{ctx.project.name}-{hash_path(ctx.project.as_posix())}-"
    found = []
    for name in ctx.listdir(location):
        if name.startswith(stem):
            env = venv_env(ctx, location / name, kind=KIND, name=name, manager="pdm", project=str(ctx.project))
            if env is not None:
                env.confidence = 0.85
                env.reason = f"pdm project: {markers}; env {name} in {location}"
                found.append(env)
    return found or [
        missing_env(local, kind=KIND, name=".venv", manager="pdm", project=ctx.project, confidence=0.55,
                    reason=f"pdm project ({markers}) but no environment; run `pdm install`")
    ]  # fmt: skip
