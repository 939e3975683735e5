"""A size-bounded log shared by the worker processes of a project: rotated to .1 .. .N under a file lock."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helper.fsutil import FileLock


class RotatingLog:
    def __init__(self, path: Path, max_bytes: int = 1_000_000, keep: int = 3) -> None:
        self.path = path
        self.max_bytes = max(1024, max_bytes)
        self.keep = max(1, keep)
        self.rotations = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(path.with_name(path.name + ".lock"), timeout=10)

    def write(self, text: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {text.rstrip()}\n".encode(errors="replace")
        with self.lock:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.max_bytes:
                self._rotate()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)  # one write of an O_APPEND file: lines never interleave
            finally:
                os.close(fd)

    def _rotate(self) -> None:
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self.rotations += 1

    def files(self) -> list[Path]:
        return sorted(p for p in self.path.parent.glob(self.path.name + "*") if not p.name.endswith(".lock"))
