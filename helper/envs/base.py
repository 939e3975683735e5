"""What every environment detector shares: the Env record and the Context it reads through.

A detector never touches the file system directly: it asks its Context, which
maps system paths onto a root (so tests can lay out a fake one) and remembers
the stat signature of every path it looked at. Those signatures are the cache
key: while none of them changes, the detection result stays valid.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helper.envs.keys import signature
from helper.envs.layout import BIN, venv_python

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass
class Env:
    """One Python environment, as found without running it."""

    kind: str  # venv | uv | poetry | pdm | pipenv | hatch | conda | pixi | pyenv | system
    name: str
    prefix: str | None
    executable: str | None
    version: str | None = None
    manager: str | None = None  # the tool that made or owns it
    project: str | None = None  # the project root it belongs to, if any
    confidence: float = 0.0
    reason: str = ""
    exists: bool = True
    active: bool = False
    chosen: bool = False
    problem: str | None = None  # why it cannot be used as it is (interpreter missing, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Env:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Context:
    """What detectors read: the project, the environment variables and a file system root."""

    project: Path
    environ: Mapping[str, str]
    root: Path = Path("/")
    config: Mapping[str, Any] = field(default_factory=dict)
    pyproject: dict[str, Any] | None = None
    seen: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- paths ---------------------------------------------------------------
    def sys(self, path: str | os.PathLike[str]) -> Path:
        """A system path (/opt/conda, ~/.pyenv) under this context's root."""
        text = os.fspath(path)
        if text.startswith("~"):
            text = self.home_text() + text[1:]
        if str(self.root) == "/" or not os.path.isabs(text):
            return Path(text)
        return self.root / text.lstrip("/")

    def home_text(self) -> str:
        return self.environ.get("HOME") or os.path.expanduser("~")

    @property
    def home(self) -> Path:
        return self.sys(self.home_text())

    def env(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value or None

    # -- recorded file access ------------------------------------------------
    def _record(self, path: Path) -> os.stat_result | None:
        try:
            st = path.stat()
        except (OSError, ValueError):
            st = None
        with self._lock:
            self.seen[str(path)] = signature(st)
        return st

    def exists(self, path: Path) -> bool:
        return self._record(path) is not None

    def is_dir(self, path: Path) -> bool:
        st = self._record(path)
        return st is not None and (st.st_mode & 0o170000) == 0o040000

    def is_file(self, path: Path) -> bool:
        st = self._record(path)
        return st is not None and (st.st_mode & 0o170000) == 0o100000

    def read_text(self, path: Path) -> str | None:
        if self._record(path) is None:
            return None
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def listdir(self, path: Path) -> list[str]:
        if self._record(path) is None:
            return []
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def read_toml(self, path: Path) -> dict[str, Any] | None:
        text = self.read_text(path)
        if text is None:
            return None
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None

    def project_toml(self) -> dict[str, Any]:
        """The project's pyproject.toml (already parsed by the project loader when given)."""
        if self.pyproject is None:
            self.pyproject = self.read_toml(self.project / "pyproject.toml") or {}
        else:
            self._record(self.project / "pyproject.toml")
        return self.pyproject

    def tool(self, name: str) -> dict[str, Any] | None:
        value = self.project_toml().get("tool", {}).get(name)
        return value if isinstance(value, dict) else None

    def project_name(self) -> str:
        data = self.project_toml()
        name = data.get("project", {}).get("name") or (self.tool("poetry") or {}).get("name")
        return str(name or self.project.name)


# -- reading environments without running them --------------------------------


def parse_cfg(text: str) -> dict[str, str]:
    """pyvenv.cfg (`key = value` lines) as a dict with lower-case keys."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def pyvenv_cfg(ctx: Context, prefix: Path) -> dict[str, str] | None:
    text = ctx.read_text(prefix / "pyvenv.cfg")
    return None if text is None else parse_cfg(text)


def interpreter(ctx: Context, prefix: Path) -> Path | None:
    """The interpreter inside an environment prefix, if one is there (links followed)."""
    names = ("python.exe",) if os.name == "nt" else ("python", "python3")
    for directory in (prefix / BIN, prefix):
        for name in names:
            candidate = directory / name
            if ctx.is_file(candidate):
                return candidate
    return None


def expected_interpreter(prefix: Path) -> Path:
    return venv_python(prefix)


def short_version(text: str | None) -> str | None:
    """'3.12.1.final.0' -> '3.12.1'; '3.12' -> '3.12'."""
    if not text:
        return None
    match = _VERSION.search(text)
    if not match:
        return None
    major, minor, micro = match.groups()
    return f"{major}.{minor}" + (f".{micro}" if micro is not None else "")


def version_tuple(text: str | None) -> tuple[int, ...]:
    found = short_version(text)
    return tuple(int(p) for p in found.split(".")) if found else ()


def venv_version(ctx: Context, prefix: Path, cfg: dict[str, str] | None) -> str | None:
    """An environment's Python version from pyvenv.cfg, conda-meta or lib/pythonX.Y."""
    if cfg:
        for key in ("version_info", "version"):
            found = short_version(cfg.get(key))
            if found:
                return found
    meta = conda_python(ctx, prefix)
    if meta:
        return meta
    for name in ctx.listdir(prefix / "lib"):
        if name.startswith("python3") or name.startswith("python2"):
            found = short_version(name[6:])
            if found:
                return found
    return None


def conda_python(ctx: Context, prefix: Path) -> str | None:
    """The python package's version recorded in conda-meta/python-X.Y.Z-build.json."""
    for name in ctx.listdir(prefix / "conda-meta"):
        if name.startswith("python-") and name.endswith(".json") and name[7:8].isdigit():
            return short_version(name[7:].split("-", 1)[0])
    return None


def manager_from_cfg(cfg: dict[str, str]) -> str:
    """Which tool made a venv, from the keys it wrote into pyvenv.cfg."""
    if "uv" in cfg:
        return "uv"
    if "virtualenv" in cfg:
        return "virtualenv"
    return "venv"


def cfg_detail(cfg: dict[str, str]) -> str:
    manager = manager_from_cfg(cfg)
    return f"pyvenv.cfg {manager}={cfg[manager]}" if manager in cfg else "pyvenv.cfg"


def venv_env(ctx: Context, prefix: Path, *, kind: str, name: str | None = None, **extra: Any) -> Env | None:
    """An Env for a venv-style prefix (pyvenv.cfg), or None when nothing is there."""
    cfg = pyvenv_cfg(ctx, prefix)
    if cfg is None and not ctx.is_dir(prefix / "conda-meta"):
        return None
    exe = interpreter(ctx, prefix)
    if exe is None and "problem" not in extra:
        link = expected_interpreter(prefix)
        target = os.readlink(link) if os.path.islink(link) else None
        extra["problem"] = (
            f"interpreter missing: {link.name} -> {target} (dangling link)" if target else f"no interpreter in {BIN}/"
        )
    return Env(
        kind=kind,
        name=name or prefix.name,
        prefix=str(prefix),
        executable=str(exe or expected_interpreter(prefix)),
        version=venv_version(ctx, prefix, cfg),
        manager=extra.pop("manager", None) or (manager_from_cfg(cfg) if cfg is not None else None),
        exists=True,
        **extra,
    )


def missing_env(
    prefix: Path, *, kind: str, name: str, manager: str, project: Path, reason: str, confidence: float
) -> Env:
    """An environment the project's tool would use but that does not exist (yet)."""
    return Env(
        kind=kind,
        name=name,
        prefix=str(prefix),
        executable=str(expected_interpreter(prefix)),
        manager=manager,
        project=str(project),
        confidence=confidence,
        reason=reason,
        exists=False,
    )


def rel(ctx: Context, path: Path) -> str:
    """`path` relative to the project when inside it (for reasons people read)."""
    try:
        return str(path.relative_to(ctx.project))
    except ValueError:
        return str(path)
