"""The environment the shell has activated (VIRTUAL_ENV, CONDA_PREFIX)."""

from __future__ import annotations

from pathlib import Path

from helper.envs.base import Context, Env, cfg_detail, pyvenv_cfg, venv_env

KIND = "active"
PRIORITY = 0


def _inside(path: Path, project: Path) -> bool:
    return path == project or project in path.parents


def detect(ctx: Context) -> list[Env]:
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = ctx.env(variable)
        if not value:
            continue
        prefix = ctx.sys(value)
        cfg = pyvenv_cfg(ctx, prefix)
        kind = "conda" if cfg is None else ("uv" if "uv" in cfg else "venv")
        if cfg is None and ctx.is_dir(prefix / "conda-meta"):
            from helper.envs import conda

            env: Env | None = conda.make_env(ctx, prefix)
            env.active = True  # type: ignore[union-attr]
        else:
            env = venv_env(ctx, prefix, kind=kind, active=True)
        if env is None:
            if ctx.is_dir(prefix):
                continue
            env = Env(kind=kind, name=prefix.name, prefix=str(prefix), executable=None, active=True, exists=False)
            env.problem = f"{variable} points at {value}, which does not exist"
        if kind == "conda":
            env.name = ctx.env("CONDA_DEFAULT_ENV") or env.name
        inside = _inside(prefix, ctx.project)
        env.project = str(ctx.project) if inside else None
        env.confidence = 0.9 if inside else 0.7
        detail = f" ({cfg_detail(cfg)})" if cfg else ""
        env.reason = f"activated in this shell: {variable}={value}{detail}"
        return [env]
    return []
