"""What the user stopped: `compose down` marks services as stopped where a running monitor sees it.

.help/compose/stopped.json maps a service to when and by what it was stopped; `up` and `watch`
lift the mark for the services they start. One lock file (.help/compose/monitor.lock) orders
the writers: `down` marks under it before removing anything, and the monitor checks the mark
under it right before each restart it makes, so a restart never brings back what `down` removed.
`compose restart` holds it too and notes when it ran, so the monitor, whose view of the
containers is then stale, looks again before restarting a service a second time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from helper.fsutil import FileLock, atomic_write
from plugins.compose.events import folder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOCK_TIMEOUT = 120.0  # a monitor's restart holds the lock for at most the engine's start (60 s) and an `up`


def _path(root: Path) -> Path:
    return folder(root) / "stopped.json"


def lock(root: Path) -> FileLock:
    return FileLock(folder(root) / "monitor.lock", timeout=LOCK_TIMEOUT)


def stopped(root: Path) -> dict[str, dict[str, Any]]:
    """service -> {"time", "reason"} for each service the user stopped and has not started since."""
    try:
        data = json.loads(_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): dict(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write(root: Path, marks: dict[str, dict[str, Any]]) -> None:
    if marks:
        atomic_write(_path(root), json.dumps(marks, indent=1, sort_keys=True))
    else:
        _path(root).unlink(missing_ok=True)


def mark(root: Path, names: list[str], reason: str) -> None:
    """Call with lock(root) held."""
    marks = stopped(root)
    now = round(time.time(), 3)
    for name in names:
        marks[name] = {"time": now, "reason": reason}
    _write(root, marks)


def note_restart(root: Path) -> None:
    """`compose restart` ran (call with lock(root) held): a monitor's view of the containers may be stale."""
    (folder(root) / "restarted").touch()


def restarted_at(root: Path) -> float:
    """When `compose restart` last ran (0.0: never); one stat."""
    try:
        return (folder(root) / "restarted").stat().st_mtime
    except OSError:
        return 0.0


def lift(root: Path, names: list[str]) -> None:
    """The user starts `names` again: a monitor may manage them."""
    with lock(root):
        marks = stopped(root)
        if any(n in marks for n in names):
            _write(root, {k: v for k, v in marks.items() if k not in names})
