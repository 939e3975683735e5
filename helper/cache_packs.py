"""Action packs: many action results of the cache in one file, so a bulk write creates one file, not thousands.

A first test run stores one result per test. As loose entries (ac/ab/<key>) that is
a file creation per test, and creating a file is what costs: 0.5 ms of system time
each on an ext4 virtual disk, more on network home folders, against microseconds to
append the same bytes to one file. `Cache.batch()` gathers a block's results and
writes them here as one pack:

    ac/pk/<sha256 of the pack>.pack
        help-pack 1
        <key> <the encoded action, exactly as a loose entry holds it>
        ...

A pack is written atomically and never changed; every entry keeps its own checksum,
so a damaged line is one miss, not a wrong answer. Lookups read the packs once per
process, on the first key not found loose. A pack is one unit for least-recently-used
eviction: reading any of its entries refreshes its mtime. Past MAX_PACKS packs they are
merged into one, under the cache's lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from helper.fsutil import atomic_write

HEADER = b"help-pack 1\n"
SUFFIX = ".pack"
MAX_PACKS = 16  # lookups read every pack once per process: more than this are merged


def _valid_key(key: str) -> bool:
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)


def read(path: Path) -> dict[str, bytes]:
    """The entries of one pack (key -> encoded action); {} for a missing or foreign file."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(HEADER):
        return {}
    entries = {}
    for line in data[len(HEADER) :].split(b"\n"):
        key, _, raw = line.partition(b" ")
        text = key.decode("ascii", "replace")
        if raw and _valid_key(text):
            entries[text] = raw
    return entries


def encode(entries: dict[str, bytes]) -> bytes:
    return HEADER + b"".join(key.encode() + b" " + raw + b"\n" for key, raw in sorted(entries.items()))


class Packs:
    """The packs of one cache folder, indexed on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: dict[str, tuple[Path, bytes]] | None = None
        self._touched: set[Path] = set()

    def paths(self) -> list[Path]:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return sorted(self.folder / n for n in names if n.endswith(SUFFIX) and not n.startswith("."))

    def _load(self) -> dict[str, tuple[Path, bytes]]:
        if self._index is None:
            self._index = {}
            for path in self.paths():
                for key, raw in read(path).items():
                    self._index[key] = (path, raw)
        return self._index

    def get(self, key: str) -> bytes | None:
        """The encoded action under `key`, refreshing its pack's mtime once per process; None when absent."""
        found = self._load().get(key)
        if found is None:
            return None
        path, raw = found
        if path not in self._touched:
            self._touched.add(path)
            with contextlib.suppress(OSError):
                os.utime(path)
        return raw

    def forget(self, key: str) -> None:
        """Stop answering `key` in this process (its entry was found corrupt)."""
        self._load().pop(key, None)

    def write(self, entries: dict[str, bytes], mode: int) -> Path:
        data = encode(entries)
        path = self.folder / (hashlib.sha256(data).hexdigest() + SUFFIX)
        atomic_write(path, data, mode=mode, fsync=False)
        if self._index is not None:
            for key, raw in entries.items():
                self._index[key] = (path, raw)
        self._touched.add(path)
        return path

    def count(self) -> int:
        return sum(len(read(path)) for path in self.paths())

    def merge(self, mode: int) -> None:
        """Merge every pack into one when there are more than MAX_PACKS (the caller holds the cache's lock).

        The merged pack takes the newest mtime of those it replaces, so eviction order holds.
        """
        paths = self.paths()
        if len(paths) <= MAX_PACKS:
            return
        merged: dict[str, bytes] = {}
        newest = 0.0
        for path in paths:
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
            merged.update(read(path))
        target = self.write(merged, mode)
        with contextlib.suppress(OSError):
            os.utime(target, (newest, newest))
        for path in paths:
            if path != target:
                with contextlib.suppress(OSError):
                    path.unlink()
        self._index = None
