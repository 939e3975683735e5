"""Where things are inside a Python environment, read from disk: its interpreter, site-packages, installed distributions.

The one home of these facts for every module (managers, detectors, test, build, run):
a venv's interpreter is bin/python (Scripts\\python.exe on Windows), a conda prefix's is
bin/python (python.exe at the root on Windows); site-packages is lib/pythonX.Y/site-packages
(lib/pypyX.Y too; Lib\\site-packages on Windows); a distribution is installed when its
NAME-VERSION.dist-info directory is there. Import-light: os and pathlib only.
"""

from __future__ import annotations

import os
from pathlib import Path

BIN = "Scripts" if os.name == "nt" else "bin"
PYTHON = "python.exe" if os.name == "nt" else "python"


def venv_python(prefix: Path) -> Path:
    """The interpreter of a venv-style environment at `prefix` (it may not exist yet)."""
    return prefix / BIN / PYTHON


def conda_python(prefix: Path) -> Path:
    """The interpreter of a conda prefix (at the prefix's root on Windows)."""
    return prefix / PYTHON if os.name == "nt" else prefix / BIN / PYTHON


def site_packages(prefix: Path) -> list[Path]:
    """The environment's site-packages directories that exist, sorted."""
    found: list[Path] = []
    lib = prefix / "lib"
    try:
        entries = sorted(os.listdir(lib))
    except OSError:
        entries = []
    for entry in entries:
        if entry.startswith(("python", "pypy")):
            site = lib / entry / "site-packages"
            if site.is_dir():
                found.append(site)
    windows = prefix / "Lib" / "site-packages"
    if windows.is_dir() and windows not in found:
        found.append(windows)
    return found


def dist_infos(prefix: Path) -> list[tuple[str, str, Path]]:
    """(name, version, its .dist-info directory) of every installed distribution, from the directory names."""
    found: list[tuple[str, str, Path]] = []
    for site in site_packages(prefix):
        try:
            entries = sorted(os.listdir(site))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                name, _, version = entry[: -len(".dist-info")].partition("-")
                found.append((name, version, site / entry))
    return found


def installed_versions(prefix: Path) -> dict[str, str]:
    """{canonical name: version} of what is installed at `prefix`, without starting its interpreter."""
    from helper.names import canonical

    return {canonical(name): version for name, version, _path in dist_infos(prefix)}
