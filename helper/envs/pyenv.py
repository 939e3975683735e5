"""pyenv: .python-version, PYENV_VERSION, $PYENV_ROOT/version and versions/; shims resolved without running them.

Running a pyenv shim costs a shell, pyenv's own scripts and a second Python
start; reading the same files pyenv reads gives the same answer for nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from helper.envs.base import Context, Env, conda_python, interpreter, short_version, version_tuple

KIND = "pyenv"
PRIORITY = 80


def pyenv_root(ctx: Context) -> Path:
    return ctx.sys(ctx.env("PYENV_ROOT") or "~/.pyenv")


def version_names(ctx: Context) -> tuple[list[str], str]:
    """The selected version names and where they come from, in pyenv's order."""
    if ctx.env("PYENV_VERSION"):
        return (ctx.env("PYENV_VERSION") or "").replace(":", " ").split(), "PYENV_VERSION"
    for directory in (ctx.project, *ctx.project.parents):
        text = ctx.read_text(directory / ".python-version")
        if text is not None:
            names = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
            return [n for n in names if n], str(directory / ".python-version")
    root = pyenv_root(ctx)
    text = ctx.read_text(root / "version")
    if text is not None:
        return [n for n in text.split() if not n.startswith("#")], str(root / "version")
    return ["system"], "default"


def resolve_name(ctx: Context, name: str) -> Path | None:
    """A version name's directory: exact, or the newest installed match of a prefix like 3.12."""
    versions = pyenv_root(ctx) / "versions"
    name = name.removeprefix("python-")
    if ctx.is_dir(versions / name):
        return versions / name
    matches = [
        v for v in ctx.listdir(versions) if v.startswith(name + ".") and v[len(name) + 1 :].replace(".", "").isdigit()
    ]
    if not matches:
        return None
    return versions / max(matches, key=version_tuple)


def resolve_shim(ctx: Context, command: str = "python") -> tuple[Path | None, str, str]:
    """What `$PYENV_ROOT/shims/<command>` would run: (path, version name, source)."""
    names, source = version_names(ctx)
    shims = str(pyenv_root(ctx) / "shims")
    for name in names:
        if name == "system":
            for entry in (ctx.env("PATH") or "").split(os.pathsep):
                if entry and str(ctx.sys(entry)).rstrip("/") != shims:
                    candidate = ctx.sys(entry) / command
                    if ctx.is_file(candidate):
                        return candidate, "system", source
            continue
        directory = resolve_name(ctx, name)
        if directory is not None:
            candidate = directory / "bin" / command
            if ctx.is_file(candidate):
                return candidate, directory.name, source
    return None, " ".join(names), source


def detect(ctx: Context) -> list[Env]:
    root = pyenv_root(ctx)
    versions = root / "versions"
    installed = ctx.listdir(versions)
    if not installed:
        return []
    names, source = version_names(ctx)
    selected = {d.name for d in (resolve_name(ctx, n) for n in names if n != "system") if d is not None}
    local = source.endswith(".python-version") and Path(source).parent in (ctx.project, *ctx.project.parents)
    found = []
    for name in installed:
        prefix = versions / name
        exe = interpreter(ctx, prefix)
        env = Env(
            kind=KIND,
            name=name,
            prefix=str(prefix),
            executable=str(exe) if exe else None,
            version=short_version(name) or conda_python(ctx, prefix),
            manager="pyenv",
        )
        if exe is None:
            env.problem = "no bin/python in this pyenv version"
        if name in selected:
            env.confidence = 0.6 if local else 0.4
            env.project = str(ctx.project) if local else None
            env.reason = f"pyenv version selected by {source}"
        else:
            env.confidence = 0.2
            env.reason = f"installed by pyenv in {versions}"
        found.append(env)
    return found
