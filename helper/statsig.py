"""Stat signatures: (mtime_ns, size, inode) of a path, the one way help.py tells "this file may have changed".

Import-light (only `os`): the replay and detection-cache fast paths use it before anything else loads.
helper.fsutil re-exports it for everything else.
"""

from __future__ import annotations

import os


def signature(st: os.stat_result) -> tuple[int, int, int]:
    """The signature of a stat result: a rewrite changes mtime or size, a replace by rename changes the inode."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def import_path_stamps(skip: str = "") -> tuple[object, ...]:
    """What the installed distributions depend on: the interpreter and the mtime of each import path folder
    (installing or removing a package changes its folder's), but `skip` (help.py's own checkout)."""
    import sys

    stamps: list[tuple[str, int | None]] = []
    for entry in sys.path:
        entry = os.path.abspath(entry or ".")
        if entry == skip:
            continue
        try:
            stamps.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            stamps.append((entry, None))
    return (sys.executable, sys.version, tuple(stamps))


def stat_signature(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """The signature of `path` (following links), or None when it cannot be stat'ed."""
    try:
        return signature(os.stat(path))
    except (OSError, ValueError):
        return None
