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
process, on the first key not found loose. Of two entries under one key the later made
wins; writing a pack removes the loose entries of its keys. A pack is one unit for
least-recently-used eviction: reading any of its entries refreshes its mtime. Past
MAX_PACKS packs they are merged into one, under the cache's lock, keeping the latest
results up to MERGED_BYTES.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from helper.fsutil import atomic_write

HEADER = b"help-pack 1\n"
SUFFIX = ".pack"
MAX_PACKS = 8  # lookups read every pack once per process: more than this are merged
MERGED_BYTES = 64 << 20  # a merged pack keeps the latest results up to this size (read on a process's first miss)


def _valid_key(key: str) -> bool:
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)


def read(path: Path) -> dict[str, bytes] | None:
    """The entries of one pack (key -> encoded action); None for a file that cannot be read or is not a pack."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(HEADER):
        return None  # e.g. a later format, in a cache shared with a newer help.py: left alone
    entries = {}
    for line in data[len(HEADER) :].split(b"\n"):
        key, _, raw = line.partition(b" ")
        text = key.decode("ascii", "replace")
        if raw and _valid_key(text):
            entries[text] = raw
    return entries


def created(raw: bytes) -> float:
    """When an encoded action was made (0 when unreadable): of two entries under one key, the later wins."""
    try:
        value = json.loads(raw).get("created")
    except (ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0


def _newer(old: bytes | None, new: bytes) -> bool:
    return old is None or old == new or created(new) >= created(old)


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
            index: dict[str, tuple[Path, bytes]] = {}
            for path in self.paths():
                for key, raw in (read(path) or {}).items():
                    known = index.get(key)
                    if _newer(known[1] if known else None, raw):
                        index[key] = (path, raw)
            self._index = index
        return self._index

    def reset(self) -> None:
        """Read the packs again on next use (gc or clean removed some)."""
        self._index = None
        self._touched.clear()

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
        return len(self._load())

    def merge(self, mode: int, max_bytes: int) -> None:
        """Merge the packs into one when there are more than MAX_PACKS (the caller holds the cache's lock).

        Of two entries under one key the later made is kept; past `max_bytes` the earliest made
        go, so the merged pack stays quick to read. It takes the newest mtime of those it
        replaces, so eviction order holds. A file that cannot be read as a pack is left as it is.
        """
        paths = self.paths()
        if len(paths) <= MAX_PACKS:
            return
        merged: dict[str, bytes] = {}
        newest = 0.0
        replaced = []
        for path in paths:
            entries = read(path)
            if entries is None:
                continue
            replaced.append(path)
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
            for key, raw in entries.items():
                if _newer(merged.get(key), raw):
                    merged[key] = raw
        by_age = sorted(merged.items(), key=lambda item: created(item[1]), reverse=True)
        kept: dict[str, bytes] = {}
        size = 0
        for key, raw in by_age:
            size += len(key) + len(raw) + 2
            if size > max_bytes:
                break
            kept[key] = raw
        target = self.write(kept, mode)
        with contextlib.suppress(OSError):
            os.utime(target, (newest, newest))
        for path in replaced:
            if path != target:
                with contextlib.suppress(OSError):
                    path.unlink()
        self.reset()
