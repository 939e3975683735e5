"""The compose event log: .help/compose/events.jsonl, one JSON object a line.

Each event is one O_APPEND write of a whole line followed by fsync, so concurrent writers
never interleave and a killed monitor loses nothing it wrote. The monitor's state
(health, restarts, breaker, the engine-event cursor) is a small JSON file written atomically.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TYPE_CHECKING = False  # typing costs start-up time (`compose ps` reads the state); annotations are strings
if TYPE_CHECKING:
    from typing import Any


def folder(root: Path) -> Path:
    path = root / ".help" / "compose"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(root: Path) -> Path:
    return folder(root) / "events.jsonl"


def append(root: Path, kind: str, service: str = "", **fields: Any) -> dict[str, Any]:
    event = {"time": round(time.time(), 3), "kind": kind, "service": service, **fields}
    line = (json.dumps(event, default=str) + "\n").encode()
    fd = os.open(log_path(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return event


def read(root: Path) -> list[dict[str, Any]]:
    path = log_path(root)
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash mid-write
    return events


def load_state(root: Path) -> dict[str, Any]:
    path = folder(root) / "state.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def save_state(root: Path, state: dict[str, Any]) -> None:
    from helper.fsutil import atomic_write  # only writers pay for it

    atomic_write(folder(root) / "state.json", json.dumps(state, indent=1, sort_keys=True))
