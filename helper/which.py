"""`which`: a program's path on PATH, as shutil.which finds it on POSIX, without shutil's import.

shutil brings bz2, lzma and fnmatch with it: on the start path of a quick command
(`sandbox run`, plugin availability) that is a measurable share of the run.
"""

from __future__ import annotations

import os


def which(name: str, path: str | None = None) -> str | None:
    """The full path of executable `name` (a name with a slash is checked as it is), or None."""
    if os.path.dirname(name):
        return name if _runnable(name) else None
    search = os.environ.get("PATH", os.defpath) if path is None else path
    for folder in search.split(os.pathsep):
        candidate = os.path.join(folder or os.curdir, name)
        if _runnable(candidate):
            return candidate
    return None


def _runnable(path: str) -> bool:
    return os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)
