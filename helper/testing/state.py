"""What help.py knows about the project's tests between runs (.help/test-state.json).

- `files`: per test file, up to MAX_VARIANTS collections (dependency set used
  at collection, its key then, and the test ids found). A matching variant
  means the file's tests are known without starting pytest; keeping several
  makes a branch switch and back hit the cache.
- `tests`: per test id, up to MAX_VARIANTS recorded dependency sets, its last
  duration (for shards) and outcome.
- `sets`: dependency-name lists by id, shared between tests.
- `seen`: each dependency's hash when last recorded, for `--explain`.
- `env`, `env_parts`, `rootdir`: the environment of the last run.

The results themselves live in the content-addressed cache, not here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from helper.cache import Cache, action_key
from helper.fsutil import atomic_write

VERSION = 1
MAX_VARIANTS = 4


def set_id(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape")).hexdigest()[:16]


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": VERSION, "files": {}, "tests": {}, "sets": {}, "seen": {}}
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict) and loaded.get("version") == VERSION:
                self.data.update(loaded)
        except (OSError, ValueError):
            pass

    @property
    def files(self) -> dict[str, list[dict[str, Any]]]:
        return self.data["files"]  # type: ignore[no-any-return]

    @property
    def tests(self) -> dict[str, dict[str, Any]]:
        return self.data["tests"]  # type: ignore[no-any-return]

    @property
    def seen(self) -> dict[str, str]:
        return self.data["seen"]  # type: ignore[no-any-return]

    def names(self, sid: str) -> list[str]:
        return self.data["sets"].get(sid, [])  # type: ignore[no-any-return]

    def add_set(self, names: set[str] | list[str]) -> str:
        ordered = sorted(names)
        sid = set_id(ordered)
        self.data["sets"].setdefault(sid, ordered)
        return sid

    def durations(self) -> dict[str, float]:
        return {tid: float(t.get("duration", 0.0)) for tid, t in self.tests.items() if "duration" in t}

    def remember_file(self, rel: str, variant: dict[str, Any]) -> None:
        others = [
            v
            for v in self.files.get(rel, [])
            if v.get("collect") != variant["collect"] or v.get("key") != variant["key"]
        ]
        self.files[rel] = [variant, *others][:MAX_VARIANTS]

    def remember_test(
        self,
        tid: str,
        rel: str,
        sid: str,
        outcome: str,
        duration: float,
        *,
        key: str | None = None,
        keep_duration: bool = False,
    ) -> None:
        """Record a run of `tid` (`key`: its result's cache key). Shard runs keep the old duration so all shards split alike."""
        entry = self.tests.get(tid) or {}
        variants = [sid, *[v for v in entry.get("variants", []) if v != sid]][:MAX_VARIANTS]
        updated: dict[str, Any] = {"file": rel, "variants": variants, "outcome": outcome, "key": key}
        if not keep_duration:
            updated["duration"] = round(duration, 6)
        elif "duration" in entry:
            updated["duration"] = entry["duration"]
        self.tests[tid] = updated

    # -- sharing through the remote cache: a fresh clone (CI) learns what each test depends on
    @staticmethod
    def _shared_key(project_name: str) -> str:
        return action_key("help-test-state", VERSION, project_name)

    def share(self, cache: Cache, project_name: str) -> None:
        digest = cache.put_blob(json.dumps(self.data, separators=(",", ":")).encode())
        cache.put_action(self._shared_key(project_name), {"blob": digest})

    def load_shared(self, cache: Cache, project_name: str) -> bool:
        pointer = cache.get_action(self._shared_key(project_name))
        blob = cache.get_blob(pointer["blob"]) if isinstance(pointer, dict) and "blob" in pointer else None
        try:
            loaded = json.loads(blob) if blob else None
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict) or loaded.get("version") != VERSION:
            return False
        self.data.update(loaded)
        return True

    def save(self) -> None:
        """Drop what nothing refers to, then write atomically."""
        known_ids = {tid for variants in self.files.values() for v in variants for tid in v.get("ids", [])}
        self.data["tests"] = {tid: t for tid, t in self.tests.items() if tid in known_ids}
        used = {v["collect"] for variants in self.files.values() for v in variants}
        used.update(sid for t in self.tests.values() for sid in t.get("variants", []))
        self.data["sets"] = {sid: names for sid, names in self.data["sets"].items() if sid in used}
        atomic_write(self.path, json.dumps(self.data, separators=(",", ":")), fsync=False)
