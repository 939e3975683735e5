"""Hatch projects: hatch.toml or [tool.hatch.envs]; envs live in <data dir>/env/virtual/<name>/<id>/<env>."""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

from helper.envs.base import Context, Env, venv_env
from helper.names import canonical

KIND = "hatch"
PRIORITY = 50


def project_id(project_dir: Path) -> str:
    """Hatch's project id: 8 chars of urlsafe b64 sha256 of the project path."""
    text = str(project_dir)
    if sys.platform in ("win32", "darwin"):
        text = text.casefold()
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def data_dir(ctx: Context) -> Path:
    if ctx.env("HATCH_DATA_DIR"):
        return ctx.sys(ctx.env("HATCH_DATA_DIR") or "")
    base = ctx.env("XDG_DATA_HOME")
    return (ctx.sys(base) if base else ctx.home / ".local" / "share") / "hatch"


def detect(ctx: Context) -> list[Env]:
    hatch_toml = ctx.read_toml(ctx.project / "hatch.toml")
    tool = ctx.tool("hatch") or {}
    if hatch_toml is None and "envs" not in tool:
        return []
    markers = "hatch.toml" if hatch_toml is not None else "[tool.hatch.envs]"
    name = canonical(ctx.project_name()) if "project" in ctx.project_toml() else f"{project_id(ctx.project)}-unmanaged"
    storage = data_dir(ctx) / "env" / "virtual" / name / project_id(ctx.project)
    wanted = ctx.env("HATCH_ENV") or "default"
    found = []
    for entry in ctx.listdir(storage):
        env = venv_env(ctx, storage / entry, kind=KIND, name=entry, manager="hatch", project=str(ctx.project))
        if env is None:
            continue
        is_default = entry == (name if wanted == "default" else wanted)
        env.confidence = 0.9 if is_default else 0.6
        env.reason = f"hatch project: {markers}; env {'default' if entry == name else entry} in {storage}"
        found.append(env)
    return found
