"""Pipenv projects: a Pipfile; the env is .venv or <WORKON_HOME>/<name>-<hash of the Pipfile path>."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from helper.envs.base import Context, Env, missing_env, pyvenv_cfg, rel, venv_env

KIND = "pipenv"
PRIORITY = 40


def env_name(project_dir: Path) -> str:
    """Pipenv's name: the sanitised directory name and 8 chars of b64 sha256 of the Pipfile's path."""
    sanitized = re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", project_dir.name)[0:42]
    digest = hashlib.sha256(str(project_dir / "Pipfile").encode()).digest()[:6]
    return f"{sanitized}-{base64.urlsafe_b64encode(digest).decode()[:8]}"


def workon_home(ctx: Context) -> Path:
    if ctx.env("WORKON_HOME"):
        return ctx.sys(ctx.env("WORKON_HOME") or "")
    base = ctx.env("XDG_DATA_HOME")
    return (ctx.sys(base) if base else ctx.home / ".local" / "share") / "virtualenvs"


def detect(ctx: Context) -> list[Env]:
    if not ctx.exists(ctx.project / "Pipfile"):
        return []
    lock = " and Pipfile.lock" if ctx.exists(ctx.project / "Pipfile.lock") else ""
    local = ctx.project / ".venv"
    if pyvenv_cfg(ctx, local) is not None:
        env = venv_env(ctx, local, kind=KIND, manager="pipenv", project=str(ctx.project))
        if env is not None:
            env.confidence = 0.88
            env.reason = f"pipenv project: Pipfile{lock}, in-project {rel(ctx, local)}"
            return [env]
    name = ctx.env("PIPENV_CUSTOM_VENV_NAME") or env_name(ctx.project)
    prefix = workon_home(ctx) / name
    env = venv_env(ctx, prefix, kind=KIND, name=name, manager="pipenv", project=str(ctx.project))
    if env is not None:
        env.confidence = 0.88
        env.reason = f"pipenv project: Pipfile{lock}; env {name} in {prefix.parent}"
        return [env]
    return [
        missing_env(prefix, kind=KIND, name=name, manager="pipenv", project=ctx.project, confidence=0.5,
                    reason=f"pipenv project (Pipfile{lock}) but {prefix} does not exist; run `pipenv install`")
    ]  # fmt: skip
