"""Poetry projects: poetry.lock or [tool.poetry]; in-project .venv or a named env in its virtualenvs path."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

from helper.envs.base import Context, Env, cfg_detail, missing_env, pyvenv_cfg, rel, venv_env, version_tuple

KIND = "poetry"
PRIORITY = 20


def env_name(name: str, project_dir: str | os.PathLike[str]) -> str:
    """Poetry's env name stem: `<name>-<8 chars of urlsafe b64 sha256 of the project dir>`."""
    from helper.names import canonical

    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", canonical(name))[:42]
    normalized = os.path.normcase(os.path.realpath(project_dir))
    digest = hashlib.sha256(normalized.encode()).digest()
    return f"{sanitized}-{base64.urlsafe_b64encode(digest).decode()[:8]}"


def _setting(ctx: Context, key: str, variable: str) -> object:
    """A poetry setting from its env variable, poetry.toml, then the user's config.toml."""
    value = ctx.env(variable)
    if value is not None:
        return (
            value.lower() in ("1", "true", "yes")
            if value.lower() in ("1", "0", "true", "false", "yes", "no")
            else value
        )
    section, _, name = key.partition(".")
    for path in (ctx.project / "poetry.toml", config_dir(ctx) / "config.toml"):
        data = ctx.read_toml(path) or {}
        table = data.get(section, {})
        if isinstance(table, dict) and name in table:
            return table[name]
    return None


def config_dir(ctx: Context) -> Path:
    if ctx.env("POETRY_CONFIG_DIR"):
        return ctx.sys(ctx.env("POETRY_CONFIG_DIR") or "")
    base = ctx.env("XDG_CONFIG_HOME")
    return (ctx.sys(base) if base else ctx.home / ".config") / "pypoetry"


def cache_dir(ctx: Context) -> Path:
    if ctx.env("POETRY_CACHE_DIR"):
        return ctx.sys(ctx.env("POETRY_CACHE_DIR") or "")
    base = ctx.env("XDG_CACHE_HOME")
    return (ctx.sys(base) if base else ctx.home / ".cache") / "pypoetry"


def virtualenvs_path(ctx: Context) -> Path:
    configured = _setting(ctx, "virtualenvs.path", "POETRY_VIRTUALENVS_PATH")
    if isinstance(configured, str) and configured:
        if "{cache-dir}" in configured:
            return Path(configured.replace("{cache-dir}", str(cache_dir(ctx))))
        return ctx.sys(configured)
    return cache_dir(ctx) / "virtualenvs"


def is_project(ctx: Context) -> list[str]:
    why = []
    for marker in ("poetry.lock", "poetry.toml"):
        if ctx.exists(ctx.project / marker):
            why.append(marker)
    if ctx.tool("poetry") is not None:
        why.append("[tool.poetry]")
    return why


def detect(ctx: Context) -> list[Env]:
    why = is_project(ctx)
    markers = " and ".join(why) or "no poetry.lock yet"
    in_project = _setting(ctx, "virtualenvs.in-project", "POETRY_VIRTUALENVS_IN_PROJECT")
    local = ctx.project / ".venv"
    if why and in_project is not False and pyvenv_cfg(ctx, local) is not None:
        env = venv_env(ctx, local, kind=KIND, project=str(ctx.project))
        if env is not None:
            env.manager = "poetry"
            env.confidence = 0.95 if in_project is True else 0.9
            env.reason = (
                f"poetry project: {markers}, in-project {rel(ctx, local)}/{cfg_detail(pyvenv_cfg(ctx, local) or {})}"
            )
            return [env]
    base = env_name(ctx.project_name(), ctx.project)
    venvs = virtualenvs_path(ctx)
    found: list[Env] = []
    envs_toml = (ctx.read_toml(venvs / "envs.toml") or {}).get(base, {})
    preferred = str(envs_toml.get("minor") or "")
    candidates = [n for n in ctx.listdir(venvs) if n.startswith(base + "-py")]
    candidates.sort(key=lambda n: version_tuple(n.rsplit("-py", 1)[-1]), reverse=True)
    for name in candidates:
        env = venv_env(ctx, venvs / name, kind=KIND, name=name, manager="poetry", project=str(ctx.project))
        if env is None:
            continue
        selected = preferred and name.endswith(f"-py{preferred}")
        env.confidence = 0.95 if selected or (not preferred and not found) else 0.8
        chosen = f" (selected in {venvs / 'envs.toml'})" if selected else ""
        env.reason = f"poetry project: {markers}; env {name} in {venvs}{chosen}"
        found.append(env)
    if found or not why:
        return found
    prefix = local if in_project is True else venvs / f"{base}-py?"
    return [
        missing_env(prefix, kind=KIND, name=prefix.name, manager="poetry", project=ctx.project, confidence=0.55,
                    reason=f"poetry project ({markers}) but no env {base}-py* in {venvs}; run `poetry install`")
    ]  # fmt: skip
