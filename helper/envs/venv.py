"""Plain venv/virtualenv directories inside the project (.venv, venv, env, .env)."""

from __future__ import annotations

from helper.envs.base import Context, Env, cfg_detail, pyvenv_cfg, rel, venv_env

KIND = "venv"
PRIORITY = 70
DEFAULT_DIRS = (".venv", "venv", "env", ".env")


def detect(ctx: Context) -> list[Env]:
    found = []
    names = ctx.config.get("env.venv_dirs") or DEFAULT_DIRS
    for number, name in enumerate(names):
        prefix = ctx.project / name
        cfg = pyvenv_cfg(ctx, prefix)
        if cfg is None:
            continue
        env = venv_env(ctx, prefix, kind=KIND, project=str(ctx.project))
        if env is None:
            continue
        env.confidence = 0.75 - 0.02 * number
        env.reason = f"virtual environment in the project: {rel(ctx, prefix)}/{cfg_detail(cfg)}"
        found.append(env)
    return found
