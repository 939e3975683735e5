"""The index of the plugins' fast start entries (helper.fast): which command has which, kept by the full CLI.

The full CLI, which discovers the plugins anyway, writes it (`remember`) to
XDG_CACHE_HOME/help/fast-index-<interpreter>.marshal when one of those commands
runs; helper.fast reads it with `os` and `marshal` only. It holds while the
plugin folders (the bundled ones and HELP_PLUGIN_PATH's), their packages'
`__init__.py` files and the import path's folders (where installed entry points
come from) are unchanged, and carries the plugins' settings signature, part of
the configuration cache's.
"""

from __future__ import annotations

import os
import sys
import time

from helper import __version__

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

INDEX_FORMAT = 3


def _plugin_folders() -> list[str]:
    """The folders plugin packages are found in (helper.plugins' bundled package, then HELP_PLUGIN_PATH)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folders = [
        os.path.join(here, name)
        for name in ("helper_plugins", "plugins")
        if os.path.isfile(os.path.join(here, name, "__init__.py"))
    ][:1]
    extra = [os.path.abspath(d) for d in os.environ.get("HELP_PLUGIN_PATH", "").split(os.pathsep) if d]
    return folders + [d for d in extra if d not in folders]


def index_key() -> tuple[object, ...]:
    """What plugin discovery depends on: the plugin folders and their packages' __init__.py, the entry points."""
    from helper.statsig import import_path_stamps, stat_signature

    stamps: list[tuple[str, object]] = []
    for folder in _plugin_folders():
        stamps.append((folder, stat_signature(folder)))
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.startswith(("_", ".")):
                init = os.path.join(folder, name, "__init__.py")
                stamps.append((init, stat_signature(init)))
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # the import path's folders stand for the installed entry points (as helper.plugins' own cache of them)
    return (INDEX_FORMAT, __version__, tuple(stamps), import_path_stamps(skip=own))


def index_path() -> str:
    """One index per interpreter (the key holds its import path): XDG_CACHE_HOME/help/fast-index-<crc>.marshal."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    crc = 0
    for byte in sys.executable.encode("utf-8", "surrogateescape"):  # FNV-1a: no zlib (a shared library) to load
        crc = ((crc ^ byte) * 0x01000193) & 0xFFFFFFFF
    return os.path.join(base, "help", f"fast-index-{crc:08x}.marshal")


def read_index() -> dict[str, Any] | None:
    import marshal

    try:
        with open(index_path(), "rb") as handle:
            key, index = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if key != index_key() or not isinstance(index, dict):
        return None
    return index


def build_index() -> dict[str, Any]:
    """The fast entries of every plugin command nobody else claims, with what `require` checks, and the
    plugins' settings signature (part of the configuration cache's signature)."""
    from helper.plugins import command_index, settings_signature

    commands = {
        name: {
            "plugin": plugin.name,
            "fast": dict(plugin.fast),
            "binaries": [list(choices) for choices in plugin.binaries],
            "modules": list(plugin.modules),
            "prefetch": plugin.prefetch,
        }
        for name, (_, _, plugin) in command_index().items()
        if plugin.fast
    }
    return {"commands": commands, "settings": settings_signature()}


def remember() -> None:
    """Write the index when it is missing or stale (called by the full CLI, which has discovered the plugins)."""
    import marshal

    if read_index() is not None:
        return
    key = index_key()
    now = time.time_ns()
    if any(isinstance(s, tuple) and now - s[0] < 2_000_000_000 for _, s in key[2]):  # type: ignore[attr-defined]
        return  # a file this fresh may change again within its mtime tick
    payload = marshal.dumps((key, build_index()))  # type: ignore[arg-type]
    from helper.fsutil import atomic_write

    path = index_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, payload, fsync=False)
