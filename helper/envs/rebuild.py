"""Make and remake environments: `env create` and the fixes `env repair` applies.

The project's own tool does the work where there is one (uv, poetry, pdm,
conda); plain venv + pip otherwise. An environment being replaced is first
moved aside and only deleted once its replacement is complete, so a failure or
Ctrl-C puts the old one back.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helper import proc
from helper.envs.base import Env, parse_cfg, short_version, version_tuple
from helper.envs.detect import Detection
from helper.envs.health import declared, lock_name, manager_class, moved_from
from helper.envs.layout import venv_python
from helper.envs.packages import SEED, installed
from helper.errors import HelpError
from helper.names import canonical
from helper.ui import console


def run_tool(cmd: list[str], cwd: Path, what: str) -> None:
    console.info("$ " + " ".join(cmd))
    result = proc.run(cmd, cwd=cwd, timeout=1800)
    if not result.ok:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise HelpError(f"{what} failed: {lines[-1] if lines else f'exit code {result.returncode}'}",
                        f"run `{' '.join(cmd)}` to see the whole output")  # fmt: skip


def find_base_python(found: Detection, version: str | None, hints: tuple[str, ...] = ()) -> str | None:
    """A base (non-venv) interpreter of `version` (X.Y or X.Y.Z), found without running anything."""
    candidates: list[tuple[str, str | None]] = []
    for hint in hints:
        candidates.append((hint, short_version(os.path.basename(hint))))
    for env in found.envs:
        if env.kind in ("pyenv", "system") and env.exists and not env.problem and env.executable:
            candidates.append((env.executable, env.version))
    base = getattr(sys, "_base_executable", sys.executable)
    candidates.append((base, ".".join(map(str, sys.version_info[:3]))))
    candidates = [(exe, v) for exe, v in candidates if os.path.isfile(exe) and os.access(exe, os.X_OK)]
    if not version:
        return candidates[0][0] if candidates else None
    wanted = version_tuple(version)
    for exact in (True, False):
        for exe, have in candidates:
            got = version_tuple(have)
            if (got == wanted) if exact else (got[: len(wanted)] == wanted or (len(got) == 2 and got == wanted[:2])):
                return exe
    return None


@contextlib.contextmanager
def replacing(prefix: Path) -> Iterator[None]:
    """Move `prefix` aside; restore it if the body fails, delete it if the body succeeds."""
    if not prefix.exists() and not prefix.is_symlink():
        yield
        return
    backup = prefix.with_name(f".{prefix.name}.old-{int(time.time())}-{os.getpid()}")
    os.replace(prefix, backup)
    try:
        yield
    except BaseException:
        shutil.rmtree(prefix, ignore_errors=True)
        os.replace(backup, prefix)
        console.warn(f"restored the previous {prefix.name}; nothing was lost")
        raise
    shutil.rmtree(backup, ignore_errors=True)


def pip_install(python: str, requirements: list[str], cwd: Path, *, use_uv: bool) -> None:
    if not requirements:
        return
    args: list[str] = []
    for req in requirements:
        args += req.split(" ", 1) if req.startswith("-e ") else [req]
    uv = shutil.which("uv") if use_uv else None
    if uv:
        run_tool([uv, "pip", "install", "--python", python, *args], cwd, "installing packages")
    else:
        run_tool([python, "-m", "pip", "install", "--disable-pip-version-check", *args], cwd, "installing packages")


def make_venv(base: str, prefix: Path, cwd: Path, *, use_uv: bool) -> None:
    uv = shutil.which("uv") if use_uv else None
    if uv:
        run_tool([uv, "venv", "--python", base, str(prefix)], cwd, "creating the environment")
    else:
        run_tool([base, "-m", "venv", str(prefix)], cwd, "creating the environment")


def recreate(project: Any, env: Env, found: Detection, manager: str | None) -> str:
    """Rebuild a broken or moved venv in place, keeping its package set (or re-syncing its lock)."""
    if not env.prefix or not (Path(env.prefix) / "pyvenv.cfg").is_file():
        raise HelpError(
            f"{env.prefix} is not a virtual environment help.py can rebuild", "recreate it with its own tool"
        )
    prefix = Path(env.prefix)
    cfg = parse_cfg((prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace"))
    version = env.version or short_version(cfg.get("version_info") or cfg.get("version"))
    home = cfg.get("home") or ""
    hints = tuple(
        os.path.join(home, n)
        for n in (f"python{'.'.join(version.split('.')[:2])}" if version else "", "python3", "python")
        if n
    )
    base = find_base_python(found, version, hints) or find_base_python(
        found, ".".join((version or "").split(".")[:2]) or None
    )
    if base is None:
        raise HelpError(f"Python {version}, which {prefix.name} was made with, is not installed",
                        f"install it (uv python install {version} / pyenv install {version}) or run `help.py env create --force --python X.Y`")  # fmt: skip
    old_root = Path(old).parent if (old := moved_from(prefix)) else None
    keep = []
    for dist in installed(prefix):
        if canonical(dist.name) in SEED:
            continue
        if dist.editable_path and old_root and not os.path.exists(dist.editable_path):
            with contextlib.suppress(ValueError):
                dist.editable_path = str(project.root / Path(dist.editable_path).relative_to(old_root))
        keep.append(dist.requirement())
    lock = lock_name(manager)
    cls = manager_class(manager)
    tool = shutil.which(cls.tool) if cls and cls.tool and lock and (project.root / lock).is_file() else None
    steps = cls(project).rebuild_commands(tool, base, prefix) if cls and tool else None
    with replacing(prefix):
        if steps and cls:
            for step in steps:
                run_tool(step, project.root, " ".join(step[:2]))
            how = cls.sync_command
        else:
            use_uv = env.manager == "uv" or "uv" in cfg
            make_venv(base, prefix, project.root, use_uv=use_uv)
            pip_install(str(venv_python(prefix)), keep, project.root, use_uv=use_uv)
            how = f"{len(keep)} package(s) reinstalled"
    return f"recreated {prefix} from {base} ({how})"


def install(project: Any, env: Env, manager: str | None) -> str:
    """Install what the project declares into its environment (the manager's sync when it has one)."""
    cls = manager_class(manager)
    tool = shutil.which(cls.tool) if cls and cls.tool and cls.lock_file else None
    if tool and cls:
        run_tool([tool, *cls.sync_command.split()[1:]], project.root, cls.sync_command)
        return cls.sync_command
    pyproject = project.pyproject if (project.root / "pyproject.toml").is_file() else {}
    reqs = declared(pyproject)
    pip_install(env.executable or "", reqs, project.root, use_uv=env.manager == "uv")
    return f"installed {len(reqs)} declared requirement(s)"


def lock(project: Any, manager: str) -> str:
    tool = shutil.which(manager)
    if tool is None:
        raise HelpError(f"`{manager}` is not installed", f"pip install {manager}")
    run_tool([tool, "lock"], project.root, f"{manager} lock")
    return f"{manager} lock"


def choose_manager(project: Any, wanted: str) -> str:
    from helper.managers.registry import decide

    if wanted != "auto":
        return wanted
    found, _reason = decide(project)
    return "venv" if found == "pip" else found


def wanted_version(project: Any, version: str | None) -> str | None:
    if version:
        return version
    pinned = project.root / ".python-version"
    if pinned.is_file():
        first = next((ln.strip() for ln in pinned.read_text(errors="replace").splitlines() if ln.strip()), "")
        if first and first != "system":
            return first
    configured = project.config.get("python")
    return configured if configured and "/" not in configured else None


def create(project: Any, found: Detection, *, manager: str, version: str | None, force: bool) -> str:
    """Create the project's environment with its manager; an existing one only with force."""
    manager = choose_manager(project, manager)
    version = wanted_version(project, version)
    base = find_base_python(found, version)
    cls = manager_class("pip" if manager == "venv" else manager)
    if cls is None:
        raise HelpError(
            f"help.py cannot create a {manager} environment", "use --manager uv, poetry, pdm, venv or conda"
        )
    prefix = cls(project).env_dir() if manager in ("uv", "venv", "conda") else project.root / ".venv"
    if manager == "poetry":
        existing = [e for e in found.envs if e.project and e.exists and e.kind == "poetry"]
        prefix = Path(existing[0].prefix) if existing and existing[0].prefix else prefix
    if (prefix.exists() or prefix.is_symlink()) and not force:
        raise HelpError(
            f"{prefix} already exists",
            "`help.py env repair` fixes it in place; `help.py env create --force` replaces it",
        )
    if base is None and manager != "uv" and manager != "conda":
        raise HelpError(
            f"no Python {version} found on this machine",
            f"install it (uv python install {version} / pyenv install {version})",
        )
    owner = cls(project)
    tool = owner.exe() if cls.tool or manager == "conda" else ""
    with replacing(prefix) if force else contextlib.nullcontext():
        for step in owner.create_commands(tool, base or sys.executable, version, prefix):
            run_tool(step, project.root, " ".join(os.path.basename(a) for a in step[:2]))
    return f"created the {manager} environment" + (f" with Python {version}" if version else "")
