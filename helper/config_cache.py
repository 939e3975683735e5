"""A cache of the merged configuration, so most runs never import tomllib.

Parsing TOML (and tomllib's own import, which compiles dozens of regexes) is
the largest fixed cost of a help.py start. The merged result is kept in
.help/config.cache (marshal) under a signature of everything it came from: the
stat of each configuration file, the HELP_* variables, the requested profile,
the schema's own file and the plugins' settings (their keys, types, defaults). Any change there means a full, validated re-read.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import time
from pathlib import Path

from helper import __version__

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

    from helper.project import Project

CACHE_NAME = "config.cache"
RACY_WINDOW_NS = 2_000_000_000  # a file this fresh may change again within the same mtime tick


def _stat(path: Path) -> tuple[int, int, int] | None:
    from helper.statsig import stat_signature

    return stat_signature(path)


def config_inputs(root: Path) -> list[Path]:
    files = [root / "pyproject.toml", root / "config" / "help.toml"]
    with contextlib.suppress(OSError):
        files += sorted(
            root / "config" / n for n in os.listdir(root / "config") if n.startswith("help.") and n.endswith(".toml")
        )
    return files


def signature(root: Path, profile: str | None, env: dict[str, str]) -> tuple[Any, ...]:
    from helper import config_schema
    from helper.plugins import settings_signature

    return (
        __version__,
        _stat(Path(config_schema.__file__)),
        settings_signature(),
        profile,
        tuple(sorted((k, v) for k, v in env.items() if k.startswith("HELP_"))),
        tuple((str(p), _stat(p)) for p in config_inputs(root)),
    )


def read(root: Path, expected: tuple[Any, ...]) -> Project | None:
    from helper.project import Project

    try:
        from helper.root import state_dir

        with open(Path(state_dir(str(root))) / CACHE_NAME, "rb") as handle:
            entry = marshal.load(handle)
        if entry["signature"] != expected:
            return None
        project = Project(
            root=root, found=True, profile=entry["profile"], config=entry["config"], sources=entry["sources"]
        )
        project.files = [Path(f) for f in entry["files"]]
        if entry["pyproject"] is not None:
            project.__dict__["pyproject"] = entry["pyproject"]
        return project
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


def write(project: Project, sig: tuple[Any, ...]) -> None:
    """Save the merged configuration unless an input is too fresh to trust its stat."""
    now = time.time_ns()
    for _, stat in sig[-1]:
        if stat is not None and stat[0] >= now - RACY_WINDOW_NS:
            return
    entry = {
        "signature": sig,
        "profile": project.profile,
        "config": project.config,
        "sources": project.sources,
        "files": [str(f) for f in project.files],
        "pyproject": project.__dict__.get("pyproject"),
    }
    try:
        data = marshal.dumps(entry)
    except ValueError:  # e.g. a TOML datetime in pyproject: just not cached
        return
    try:
        from helper.fsutil import atomic_write

        atomic_write(project.ensure_state_dir() / CACHE_NAME, data, fsync=False)
    except OSError:
        pass  # a read-only checkout still works, only slower
