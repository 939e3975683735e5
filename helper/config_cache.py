"""A cache of the merged configuration, so most runs never import tomllib.

Parsing TOML (and tomllib's own import, which compiles dozens of regexes) is
the largest fixed cost of a help.py start. The merged result is kept in
.help/config.cache (marshal) under a signature of everything it came from: the
stat of each configuration file, the HELP_* variables, the requested profile,
the schema's own file and the plugins' settings (their keys, types, defaults). Any change there means a full, validated re-read.
"""

from __future__ import annotations

import marshal
import os
import time

from helper import __version__

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from helper.project import Project

CACHE_NAME = "config.cache"
RACY_WINDOW_NS = 2_000_000_000  # a file this fresh may change again within the same mtime tick


def _stat(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    from helper.statsig import stat_signature

    return stat_signature(path)


def input_paths(root: str) -> list[str]:
    """The configuration files of the project at `root` (those that may exist), as strings."""
    folder = os.path.join(root, "config")
    files = [os.path.join(root, "pyproject.toml"), os.path.join(folder, "help.toml")]
    try:  # noqa: SIM105 - contextlib is not imported on the fast start path
        files += sorted(
            os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("help.") and n.endswith(".toml")
        )
    except OSError:
        pass
    return files


def config_inputs(root: Path) -> list[Path]:
    from pathlib import Path

    return [Path(p) for p in input_paths(str(root))]


# helper/config_schema.py, by path: its stat is part of the signature, and the fast start path
# (helper.fast) computes the signature without importing the schema.
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config_schema.py")


def signature(root: Path, profile: str | None, env: dict[str, str]) -> tuple[Any, ...]:
    from helper.plugins import settings_signature

    return signature_of(str(root), profile, env, settings_signature())


def signature_of(root: str, profile: str | None, env: dict[str, str], settings: tuple[object, ...]) -> tuple[Any, ...]:
    """The signature of everything the merged configuration of `root` came from; `settings` is the
    plugins' (helper.plugins.settings_signature). Only `os` is needed."""
    return (
        __version__,
        _stat(SCHEMA_FILE),
        settings,
        profile,
        tuple(sorted((k, v) for k, v in env.items() if k.startswith("HELP_") and k != "HELP_NO_FAST")),  # not a setting
        tuple((p, _stat(p)) for p in input_paths(root)),
    )


def read_entry(root: str, expected: tuple[Any, ...]) -> dict[str, Any] | None:
    """The cached entry (profile, config, sources, files, pyproject) when its signature is `expected`, else None."""
    try:
        from helper.root import state_dir

        with open(os.path.join(state_dir(root), CACHE_NAME), "rb") as handle:
            entry = marshal.load(handle)
        if not isinstance(entry, dict) or entry["signature"] != expected:
            return None
        return entry
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


def read(root: Path, expected: tuple[Any, ...]) -> Project | None:
    from pathlib import Path

    from helper.project import Project

    entry = read_entry(str(root), expected)
    if entry is None:
        return None
    try:
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
