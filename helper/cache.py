"""Content-addressed store in .help/cache: blobs by sha256, action results by key.

Layout (the Bazel remote-cache layout, so a remote mirrors it one to one):
    cas/ab/<sha256>   blob bytes; the name is their hash
    ac/ab/<key>       an action result: JSON with a checksum of its payload
    ac/pk/<sha>.pack  many action results written in one batch (helper.cache_packs)
    stats.json        hits, misses, time saved, evictions (updated under a lock)

Writes are atomic (temp + rename), so a writer killed mid-way leaves only a
temp file, which gc removes. Every read is verified: a corrupt entry is evicted
and reported, never returned. Reading refreshes an entry's mtime, which is what
least-recently-used eviction sorts by.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.cache_packs import MAX_PACKS, MERGED_BYTES, Packs
from helper.errors import HelpError
from helper.fsutil import FileLock, atomic_write, default_mode

KINDS = ("ac", "cas")
OPENED: list[Cache] = []  # every cache this process opened; the CLI flushes their stats
STALE_TMP_SECONDS = 3600
PACK_AT_LEAST = 8  # a batch with fewer results is written as loose entries


def _valid_digest(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def action_key(*parts: Any) -> str:
    """A stable sha256 key for an action from its inputs (any JSON-able values)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _encode_action(payload: Any, duration: float | None) -> bytes:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(body.encode()).hexdigest()
    return json.dumps(
        {"v": 1, "sha256": checksum, "duration": duration, "created": time.time(), "payload": body}
    ).encode()


def _decode_action(raw: bytes) -> tuple[Any, float | None]:
    """Payload and duration of an encoded action; ValueError when it is corrupt."""
    try:
        entry = json.loads(raw)
        body = entry["payload"]
        if hashlib.sha256(body.encode()).hexdigest() != entry["sha256"]:
            raise ValueError("checksum mismatch")
        return json.loads(body), entry.get("duration")
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable entry ({exc.__class__.__name__})") from None


@dataclass
class Counters:
    hits: int = 0
    misses: int = 0
    remote_hits: int = 0
    corrupt: int = 0
    time_saved: float = 0.0
    evicted: int = 0
    bytes_written: int = 0
    corrupt_keys: list[str] = field(default_factory=list)


class Cache:
    """The local content-addressed cache, optionally backed by a remote one."""

    def __init__(self, directory: Path, max_bytes: int = 2 << 30, remote: Any = None) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.remote = remote
        self.session = Counters()
        self._mode: int | None = None  # of new entries: 0666 less the umask, read once
        self.packs = Packs(directory / "ac" / "pk")
        self._pending: dict[str, bytes] | None = None  # results put inside batch(), written when it ends
        OPENED.append(self)

    # -- paths --------------------------------------------------------------
    def _path(self, kind: str, digest: str) -> Path:
        if kind not in KINDS or not _valid_digest(digest):
            raise ValueError(f"bad cache address {kind}/{digest!r}")
        return self.dir / kind / digest[:2] / digest

    def _entry_mode(self) -> int:
        # One mode for every entry: no stat of the target nor read of the umask per write (a first
        # test run stores thousands of results).
        if self._mode is None:
            self._mode = default_mode()
        return self._mode

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data, mode=self._entry_mode(), fsync=False)
        self.session.bytes_written += len(data)

    def _read(self, path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least-recently-used bookkeeping
        return data

    def _evict_corrupt(self, path: Path, reason: str) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        self.session.corrupt += 1
        self.session.corrupt_keys.append(f"{path.parent.parent.name}/{path.name}: {reason}")

    # -- blobs --------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path("cas", digest)
        if not path.exists():
            self._write(path, data)
            if self.remote is not None:
                self.remote.put("cas", digest, data)
        return digest

    def put_file(self, source: Path) -> str:
        """Store a file's bytes (streamed, for large artifacts) and return its sha256."""
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=".blob.", suffix=".tmp", dir=self._ensure(self.dir / "cas"))
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            hexdigest = digest.hexdigest()
            path = self._path("cas", hexdigest)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            self.session.bytes_written += path.stat().st_size
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self.remote is not None:
            self.remote.put("cas", hexdigest, path.read_bytes())
        return hexdigest

    def get_blob(self, digest: str) -> bytes | None:
        path = self._path("cas", digest)
        data = self._read(path)
        if data is not None and hashlib.sha256(data).hexdigest() != digest:
            self._evict_corrupt(path, "content does not match its hash")
            data = None
        if data is None and self.remote is not None:
            fetched = self.remote.get("cas", digest)
            if fetched is not None and hashlib.sha256(fetched).hexdigest() == digest:
                self._write(path, fetched)
                self.session.remote_hits += 1
                data = fetched
        return data

    def blob_path(self, digest: str) -> Path | None:
        """The verified on-disk path of a blob (fetched from the remote if needed)."""
        path = self._path("cas", digest)
        if path.exists():
            try:
                ok = _hash_file(path) == digest
            except OSError:
                ok = False
            if ok:
                with contextlib.suppress(OSError):
                    os.utime(path)
                return path
            self._evict_corrupt(path, "content does not match its hash")
        return path if self.get_blob(digest) is not None else None

    # -- action results -----------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Action results put inside the block are written when it ends, together in one pack.

        For bulk writers (a test run's results): one file instead of one per result.
        The remote, if any, still gets each result as it is put. Results put before an
        exception ends the block are written all the same.
        """
        if self._pending is not None:  # nested: the outer block writes
            yield
            return
        self._pending = {}
        try:
            yield
        except BaseException:
            pending, self._pending = self._pending, None
            with contextlib.suppress(Exception):  # what is unwinding (Ctrl-C ...) is the error to report
                self._write_pending(pending)
            raise
        pending, self._pending = self._pending, None
        self._write_pending(pending)

    def _write_pending(self, pending: dict[str, bytes]) -> None:
        if len(pending) < PACK_AT_LEAST:
            for key, data in pending.items():
                self._write(self._path("ac", key), data)
            return
        self.packs.write(pending, self._entry_mode())
        self.session.bytes_written += sum(len(data) for data in pending.values())
        for key in pending:  # an older loose entry under the same key would be read first
            with contextlib.suppress(OSError):
                os.unlink(self._path("ac", key))
        if len(self.packs.paths()) > MAX_PACKS:
            # Housekeeping only: the pack is written; a busy lock or a full disk leaves merging to the next run.
            with contextlib.suppress(OSError, HelpError), self._lock():
                self.packs.merge(self._entry_mode(), min(self.max_bytes // 8, MERGED_BYTES))

    def put_action(self, key: str, payload: Any, duration: float | None = None) -> None:
        data = _encode_action(payload, duration)
        if self._pending is not None:
            self._path("ac", key)  # the same address check as a loose entry
            self._pending[key] = data
        else:
            self._write(self._path("ac", key), data)
        if self.remote is not None:
            self.remote.put("ac", key, data)

    def count_reused(self, hits: int, seconds: float) -> None:
        """Count results a caller kept itself and reused without reading their entries (the test state's)."""
        self.session.hits += hits
        self.session.time_saved += seconds

    def touch_action(self, key: str) -> bool:
        """Mark the local entry under `key` as just used; False when there is none."""
        if self._pending is not None and key in self._pending:
            return True
        path = self._path("ac", key)
        if self.packs.get(key) is not None:  # most results of a test run are packed: no failing utime first
            return True
        try:
            os.utime(path)
        except OSError:
            return False
        return True

    def get_action(self, key: str) -> Any | None:
        """The payload stored under `key`, counting a hit or a miss."""
        path = self._path("ac", key)
        raw = self._pending.get(key) if self._pending is not None else None
        raw = raw if raw is not None else self._read(path)
        in_pack = False
        if raw is None:
            raw = self.packs.get(key)
            in_pack = raw is not None
        source_remote = False
        if raw is None and self.remote is not None:
            raw = self.remote.get("ac", key)
            source_remote = raw is not None
        if raw is None:
            self.session.misses += 1
            return None
        try:
            payload, duration = _decode_action(raw)
        except ValueError as exc:
            if in_pack:  # one damaged line: the pack's other entries stay good
                self.packs.forget(key)
                self.session.corrupt += 1
                self.session.corrupt_keys.append(f"ac/pk/{key}: {exc}")
            elif not source_remote:
                self._evict_corrupt(path, str(exc))
            else:
                self.session.corrupt += 1
                self.session.corrupt_keys.append(f"remote ac/{key}: {exc}")
            self.session.misses += 1
            return None
        if source_remote:
            self._write(path, raw)
            self.session.remote_hits += 1
        self.session.hits += 1
        self.session.time_saved += duration or 0.0
        return payload

    # -- housekeeping -------------------------------------------------------
    def _ensure(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _lock(self) -> FileLock:
        self.dir.mkdir(parents=True, exist_ok=True)
        return FileLock(self.dir / ".lock", timeout=60)

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for kind in KINDS:
            base = self.dir / kind
            if not base.is_dir():
                continue
            for path in base.glob("*/*"):
                if path.name.startswith("."):  # a writer's temp file, not an entry
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = path.stat()
                    found.append((st.st_mtime, st.st_size, path))
        return found

    def _read_stats(self) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / "stats.json").read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def flush(self) -> None:
        """Add this process's counters to stats.json; evict if over the size cap."""
        s = self.session
        if not (s.hits or s.misses or s.corrupt or s.bytes_written or s.evicted):
            return
        with self._lock():
            stats = self._read_stats()
            for name in ("hits", "misses", "remote_hits", "corrupt", "evicted"):
                stats[name] = int(stats.get(name, 0)) + getattr(s, name)
            stats["time_saved"] = float(stats.get("time_saved", 0.0)) + s.time_saved
            stats["bytes_since_gc"] = int(stats.get("bytes_since_gc", 0)) + s.bytes_written
            over = stats["bytes_since_gc"] > self.max_bytes // 10
            atomic_write(self.dir / "stats.json", json.dumps(stats, indent=1), fsync=False)
        self.session = Counters()
        if over:
            self.gc(self.max_bytes)

    def stats(self) -> dict[str, Any]:
        entries = self._entries()
        stats = self._read_stats()
        counts = {kind: 0 for kind in KINDS}
        for _, _, path in entries:
            if path.parent != self.packs.folder:
                counts[path.parent.parent.name] += 1
        counts["ac"] += self.packs.count()
        total = int(stats.get("hits", 0)) + int(stats.get("misses", 0))
        return {
            "dir": str(self.dir),
            "entries": counts["ac"] + counts["cas"],
            "actions": counts["ac"],
            "blobs": counts["cas"],
            "bytes": sum(size for _, size, _ in entries),
            "max_bytes": self.max_bytes,
            "hits": int(stats.get("hits", 0)),
            "misses": int(stats.get("misses", 0)),
            "hit_rate": round(int(stats.get("hits", 0)) / total, 3) if total else None,
            "remote_hits": int(stats.get("remote_hits", 0)),
            "corrupt_evicted": int(stats.get("corrupt", 0)),
            "lru_evicted": int(stats.get("evicted", 0)),
            "time_saved_s": round(float(stats.get("time_saved", 0.0)), 3),
            "remote": getattr(self.remote, "url", None),
        }

    def gc(self, max_bytes: int | None = None) -> dict[str, int]:
        """Evict least recently used entries until the cache fits `max_bytes`; drop stale temp files."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        removed = freed = 0
        with self._lock():
            now = time.time()
            for tmp in self.dir.rglob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                        tmp.unlink()
            entries = sorted(self._entries())
            total = sum(size for _, size, _ in entries)
            for _, size, path in entries:
                if total <= limit:
                    break
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
                    freed += size
                total -= size
            self.packs.reset()
            stats = self._read_stats()
            stats["evicted"] = int(stats.get("evicted", 0)) + removed
            stats["bytes_since_gc"] = 0
            atomic_write(self.dir / "stats.json", json.dumps(stats, indent=1), fsync=False)
        return {"removed": removed, "freed_bytes": freed, "remaining_bytes": total}

    def clean(self) -> dict[str, int]:
        """Remove every entry and the statistics."""
        import shutil

        with self._lock():
            entries = self._entries()
            for kind in KINDS:
                shutil.rmtree(self.dir / kind, ignore_errors=True)
            self.packs.reset()
            with contextlib.suppress(FileNotFoundError):
                (self.dir / "stats.json").unlink()
        return {"removed": len(entries), "freed_bytes": sum(size for _, size, _ in entries)}


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def for_project(project: Any) -> Cache:
    """The project's cache as configured (cache.dir, cache.max_size, cache.remote)."""
    from helper.config_schema import parse_size

    directory = Path(project.config["cache.dir"])
    if project.sources.get("cache.dir", "default") == "default":
        directory = project.state_dir / "cache"  # follows HELP_STATE_DIR
    elif not directory.is_absolute():
        directory = project.root / directory
    remote = None
    if project.config.get("cache.remote"):
        from helper.remote_cache import RemoteCache

        remote = RemoteCache(
            project.config["cache.remote"],
            timeout=float(project.config["cache.remote_timeout"]),
            write=bool(project.config["cache.remote_write"]),
        )
    return Cache(directory, parse_size(project.config["cache.max_size"]), remote)
