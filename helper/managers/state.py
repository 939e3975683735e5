"""The no-op fast path: is the environment already in sync with the manifest and lock?

The fingerprint covers the manager, the bytes of its manifest and lock files and
the names of the environment's installed metadata directories (name + version),
so a changed lock, an edited manifest or a package installed by hand all count.
It reads a few small files and lists one directory: no subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from helper.managers.base import Manager

try:  # the built-in sha256 loads in microseconds; hashlib pulls in OpenSSL (milliseconds)
    from _sha2 import sha256  # type: ignore[import-not-found]  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef]  # Python 3.11
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment]

STATE_FILE = "install-state.json"


def fingerprint(manager: Manager) -> str | None:
    """Digest of what was installed from what, or None when there is no environment."""
    if not manager.python().exists():
        return None
    digest = sha256(manager.name.encode() + b"\0" + str(manager.env_dir()).encode() + b"\0")
    for path in manager.manifest_files():
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        digest.update(path.name.encode() + b"\0" + (sha256(data).digest() if data is not None else b"-") + b"\n")
    site = manager.site_packages()
    meta = manager.env_dir() / "conda-meta"
    for folder, suffix in ((site, ".dist-info"), (meta, ".json")):
        if folder is None:
            continue
        try:
            names = sorted(e for e in os.listdir(folder) if e.endswith(suffix))
        except OSError:
            names = []
        digest.update("\n".join(names).encode() + b"\0")
    return digest.hexdigest()


def pending_recovery(project: Any) -> bool:
    return (project.state_dir / "backups" / "pending.json").exists()


def in_sync(project: Any, manager: Manager) -> bool:
    if pending_recovery(project):
        return False
    try:
        saved = json.loads((project.state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return False
    current = fingerprint(manager)
    return current is not None and saved.get("fingerprint") == current


def inputs(project: Any, manager: Manager) -> list[str]:
    """Every path the in-sync answer was read from, for replaying it (helper.replay) while none changes."""
    from helper.config_cache import config_inputs
    from helper.managers.registry import MARKER_FILES

    env = manager.env_dir()
    paths = [project.root / "config", *config_inputs(project.root), *manager.manifest_files()]
    paths += [project.root / name for name in MARKER_FILES] + manager.listed_dirs()
    paths += [manager.python(), env, env / "pyvenv.cfg", env / "conda-meta", manager.site_packages() or env]
    paths += [project.state_dir / "backups" / "pending.json"]
    return [os.fspath(p) for p in paths]


def save(project: Any, manager: Manager) -> None:
    from helper.fsutil import atomic_write

    value = fingerprint(manager)
    if value is None:
        return
    atomic_write(
        project.ensure_state_dir() / STATE_FILE,
        json.dumps({"manager": manager.name, "fingerprint": value}),
        fsync=False,
    )


def forget(project: Any) -> None:
    with contextlib.suppress(OSError):
        (project.state_dir / STATE_FILE).unlink()
