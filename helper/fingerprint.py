"""Content fingerprints of files and trees, with a stat fast path.

A file's sha256 is remembered with its (mtime_ns, size, inode); while those are
unchanged the file is not read again. As in git's index, an entry whose mtime
is not safely older than the moment it was recorded is "racy" and re-hashed, so
an edit in the same clock tick is never missed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from helper.fsutil import atomic_write
from helper.statsig import signature

IGNORED_DIRS = {
    ".git", ".hg", ".svn", ".help", ".venv", "venv", "env", "__pycache__", "node_modules", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs", "__pypackages__", ".idea", ".vscode",
}  # fmt: skip
RACY_WINDOW_NS = 2_000_000_000  # coarse file systems tick in up to 2 s
CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(root: Path) -> list[str]:
    """Project files relative to `root`: git's tracked + untracked-not-ignored, else a walk."""
    if (root / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                capture_output=True,
                timeout=30,
                check=True,
            ).stdout
            names = {name for name in out.decode("utf-8", "surrogateescape").split("\0") if name}
            # Deleted-but-tracked files are listed too; only keep what exists.
            return sorted(n for n in names if os.path.isfile(root / n))
        except (OSError, subprocess.SubprocessError):
            pass
    return walk(root)


def walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.endswith(".egg-info"))
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.endswith((".pyc", ".pyo")):
                continue
            found.append(name if rel == "." else os.path.join(rel, name))
    return sorted(found)


class Fingerprinter:
    """Hashes files under `root`, remembering stat data in `state_file` between runs."""

    def __init__(self, root: Path, state_file: Path | None = None) -> None:
        self.root = root
        self.state_file = state_file
        self.entries: dict[str, list[int | str]] = {}
        self.hashed = 0  # files actually read this run (for tests and stats)
        self.dirty = False
        self._saved_at = 0
        if state_file is not None:
            try:
                data = json.loads(state_file.read_text())
                if data.get("root") == str(root):
                    self.entries = data["files"]
                    self._saved_at = int(data["saved_at_ns"])
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}

    def file(self, rel: str) -> str | None:
        """sha256 of `rel` (relative to root), or None if it does not exist."""
        path = self.root / rel
        try:
            st = os.stat(path)
        except OSError:
            self.entries.pop(rel, None)
            return None
        cached = self.entries.get(rel)
        sig = signature(st)
        racy = sig[0] >= self._saved_at - RACY_WINDOW_NS
        if cached and not racy and tuple(cached[:3]) == sig:
            return str(cached[3])
        try:
            digest = sha256_file(path)
        except (IsADirectoryError, PermissionError):
            return None
        self.hashed += 1
        self.entries[rel] = [*sig, digest]
        self.dirty = True
        return digest

    def files(self, rels: Iterable[str]) -> dict[str, str]:
        result = {}
        for rel in rels:
            digest = self.file(rel)
            if digest is not None:
                result[rel] = digest
        return result

    def tree(self, rels: Iterable[str] | None = None) -> tuple[str, dict[str, str]]:
        """(combined digest, {path: sha256}) of the given files, default every project file."""
        hashes = self.files(list_files(self.root) if rels is None else rels)
        return combine(hashes), hashes

    def save(self) -> None:
        if self.state_file is None or not self.dirty:
            return
        payload = {"root": str(self.root), "saved_at_ns": time.time_ns(), "files": self.entries}
        atomic_write(self.state_file, json.dumps(payload, separators=(",", ":")), fsync=False)
        self.dirty = False


def combine(hashes: dict[str, str]) -> str:
    """One digest for a {path: sha256} mapping, independent of insertion order."""
    digest = hashlib.sha256()
    for rel in sorted(hashes):
        digest.update(rel.encode("utf-8", "surrogateescape") + b"\0" + hashes[rel].encode() + b"\n")
    return digest.hexdigest()


def for_project(root: Path) -> Fingerprinter:
    """The project's shared fingerprinter, with its stat cache in .help/."""
    from helper.root import state_dir

    return Fingerprinter(root, Path(state_dir(str(root))) / "fingerprints.json")
