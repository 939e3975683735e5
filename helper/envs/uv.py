"""uv projects: uv.lock, [tool.uv] or a [tool.uv.workspace]; the env is <workspace>/.venv."""

from __future__ import annotations

from pathlib import Path

from helper.envs.base import Context, Env, cfg_detail, missing_env, pyvenv_cfg, rel, venv_env

KIND = "uv"
PRIORITY = 10


def workspace_root(ctx: Context) -> tuple[Path, list[str]]:
    """The directory holding uv.lock (the workspace root, or the project itself) and why."""
    why: list[str] = []
    if ctx.exists(ctx.project / "uv.lock"):
        why.append("uv.lock")
    if ctx.tool("uv") is not None:
        why.append("[tool.uv]" if "workspace" not in (ctx.tool("uv") or {}) else "[tool.uv.workspace]")
    if why:
        return ctx.project, why
    # A workspace member: the lock and the env live at the workspace root above it.
    for parent in list(ctx.project.parents)[:4]:
        data = ctx.read_toml(parent / "pyproject.toml") if ctx.exists(parent / "uv.lock") else None
        if data and "workspace" in data.get("tool", {}).get("uv", {}):
            return parent, [f"member of the uv workspace at {parent}"]
    return ctx.project, []


def detect(ctx: Context) -> list[Env]:
    root, why = workspace_root(ctx)
    custom = ctx.env("UV_PROJECT_ENVIRONMENT")
    prefix = root / custom if custom else root / ".venv"
    cfg = pyvenv_cfg(ctx, prefix)
    if not why:
        if cfg is None or "uv" not in cfg:
            return []
        env = venv_env(ctx, prefix, kind=KIND, project=str(ctx.project))
        if env is None:
            return []
        env.confidence = 0.78
        env.reason = f"made by uv: {rel(ctx, prefix)}/{cfg_detail(cfg)}"
        return [env]
    markers = " and ".join(why)
    env = venv_env(ctx, prefix, kind=KIND, project=str(ctx.project)) if cfg is not None else None
    if env is None:
        return [
            missing_env(prefix, kind=KIND, name=prefix.name, manager="uv", project=ctx.project, confidence=0.6,
                        reason=f"uv project ({markers}) but {rel(ctx, prefix)} does not exist; run `uv sync`")
        ]  # fmt: skip
    env.manager = "uv"
    env.confidence = 0.97 if "uv" in (cfg or {}) else 0.85
    env.reason = f"uv project: {markers} and {rel(ctx, prefix)}/{cfg_detail(cfg or {})}"
    return [env]
